"""The masking ExampleGen reads its input through Beam's FileSystems: a path under a non-local
scheme and a gzip-compressed CSV read like a local CSV, and errors still name file and line."""
import dataclasses
import gzip
import hashlib
import json
import os

import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

from components.masking import malformed, policy, reading
from components.masking.lineage import source_files
from privrec.data import sources
from pipeline import configs, spans
from privrec.data import generator, schema
from trainer import catalog

SCHEME = "privrectest"


class PrefixedLocalFileSystem(LocalFileSystem):
    """`privrectest:///abs/path` is the local file /abs/path: a non-local scheme (as gs:// is)
    that Beam's FileSystems finds by subclass registration, so plain open()/glob fail on it."""

    @classmethod
    def scheme(cls):
        return SCHEME

    @staticmethod
    def _local(path):  # LocalFileSystem's own methods call these with local paths too
        return path[len(SCHEME) + 3:] if path.startswith(f"{SCHEME}://") else path

    def has_dirs(self):
        return False

    def _list(self, prefix):
        local = self._local(prefix)
        root = local if os.path.isdir(local) else os.path.dirname(local)
        for found in super()._list(root):
            if found.path.startswith(local):
                yield FileMetadata(f"{SCHEME}://{found.path}", found.size_in_bytes)

    def exists(self, path):
        return super().exists(self._local(path))

    def size(self, path):
        return super().size(self._local(path))

    def metadata(self, path):
        found = super().metadata(self._local(path))
        return FileMetadata(path, found.size_in_bytes)

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)


def _write_interactions(directory, rows):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "part-0.csv")
    generator.write_csv(path, rows, schema.INTERACTION_COLUMNS)
    return path


@pytest.fixture(scope="module")
def rows():
    return generator.generate(generator.SIZES["tiny"])["interactions"][:300]


def test_a_non_local_scheme_reads_like_the_local_path(tmp_path, rows):
    local = _write_interactions(str(tmp_path / "interactions"), rows)
    remote_base = f"{SCHEME}://{tmp_path / 'interactions'}"
    tiny = policy.load(policy.TINY_POLICY)
    files = reading.input_files(remote_base, "*.csv")
    assert files == [f"{SCHEME}://{local}"]
    with pytest.raises(FileNotFoundError):
        open(files[0])  # the path is not a local one: only FileSystems can read it
    assert reading.check_header(files[0], tiny)
    assert list(reading.read_rows(files[0], tiny)) == list(reading.read_rows(local, tiny))
    [lineage] = json.loads(source_files(files))
    with open(local, "rb") as f:
        assert lineage == {"name": "part-0.csv", "bytes": os.path.getsize(local),
                           "sha256": hashlib.sha256(f.read()).hexdigest()}


def test_errors_on_a_non_local_path_name_it_with_line_and_column(tmp_path, rows):
    bad = [dict(r) for r in rows]
    bad[20][schema.TIMESTAMP] = "yesterday"
    _write_interactions(str(tmp_path / "interactions"), bad)
    [path] = reading.input_files(f"{SCHEME}://{tmp_path / 'interactions'}", "*.csv")
    with pytest.raises(malformed.InputDataError) as failure:
        list(reading.read_rows(path, policy.load(policy.TINY_POLICY)))
    assert f"{path}, line 22, column 'timestamp'" in str(failure.value)


def test_gzip_csv_is_decompressed_and_its_lineage_is_the_stored_file(tmp_path, rows):
    local = _write_interactions(str(tmp_path / "plain"), rows)
    os.makedirs(tmp_path / "packed")
    packed = str(tmp_path / "packed" / "part-0.csv.gz")
    with open(local, "rb") as source, gzip.open(packed, "wb") as target:
        target.write(source.read())
    tiny = policy.load(policy.TINY_POLICY)
    assert reading.input_files(str(tmp_path / "packed"), "*.csv*") == [packed]
    assert list(reading.read_rows(packed, tiny)) == list(reading.read_rows(local, tiny))
    [lineage] = json.loads(source_files([packed]))
    with open(packed, "rb") as f:
        assert lineage["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert lineage["bytes"] == os.path.getsize(packed) < os.path.getsize(local)


def test_match_lists_files_only_and_in_order(tmp_path):
    for name in ("b.csv", "a.csv", "sub/c.csv"):
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        (tmp_path / name).write_text("x\n")
    assert sources.match(str(tmp_path), "*") == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert sources.match(str(tmp_path), "**.csv")[-1] == str(tmp_path / "sub" / "c.csv")


def test_catalog_and_span_layout_are_read_through_a_non_local_scheme(tmp_path, rows):
    """The Trainer's catalog, span-mode detection and the span cache keys (catalog and schema
    SHA-256) read a remote data dir as they read the local one."""
    local_dir = str(tmp_path / "input")
    generator.write_dataset(local_dir, "tiny")
    remote_dir = f"{SCHEME}://{local_dir}"
    local = configs.local_config(str(tmp_path / "work"), data_dir=local_dir)
    remote = dataclasses.replace(local, data_dir=remote_dir)
    assert not os.path.exists(remote.catalog_path)  # only FileSystems can read it
    assert catalog.Catalog.load(remote.catalog_path) == catalog.Catalog.load(local.catalog_path)
    with open(local.catalog_path, "rb") as f:
        assert sources.sha256(remote.catalog_path) == hashlib.sha256(f.read()).hexdigest()
    assert spans.custom_config(remote, {}) == {}  # not span mode: loose interactions/*.csv
    span_dir = tmp_path / "span_input"
    _write_interactions(str(span_dir / "interactions" / "span-1"), rows)
    os.symlink(local.catalog_path, span_dir / "catalog.csv")
    spanned = dataclasses.replace(local, data_dir=f"{SCHEME}://{span_dir}")
    assert spanned.span_mode
    assert spans.custom_config(spanned, {})["catalog_sha256"] == sources.sha256(
        remote.catalog_path)
    with pytest.raises(FileNotFoundError, match=r"catalog privrectest://.*/missing/catalog.csv"):
        catalog.Catalog.load(f"{SCHEME}://{tmp_path}/missing/catalog.csv")
