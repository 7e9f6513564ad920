"""Bad input stops the run at ingestion with a message naming the column, before training."""
import csv
import io
import os

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.masking import malformed, policy, pseudonymizer, reading
from pipeline import configs, local_runner
from privrec.data import generator, schema


def _run_on(tmp_path, rows, columns):
    config = configs.local_config(str(tmp_path), allow_dev_key=True, train_steps=2,
                                  time_window=generator.TIME_WINDOW)
    data = generator.generate(generator.SIZES["tiny"])
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    generator.write_csv(os.path.join(config.interactions_dir, "data.csv"), rows, columns)
    with pytest.raises(Exception) as failure:
        local_runner.run(config, printer=lambda line: None)
    for later in ("Transform", "Trainer"):
        assert not os.path.exists(os.path.join(config.pipeline_root, later)), later
    return str(failure.value)


def _run_on_bytes(tmp_path, raw: bytes):
    """Like _run_on, for a data.csv of exactly these bytes."""
    config = configs.local_config(str(tmp_path), allow_dev_key=True, train_steps=2,
                                  time_window=generator.TIME_WINDOW)
    data = generator.generate(generator.SIZES["tiny"])
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    os.makedirs(config.interactions_dir, exist_ok=True)
    _write_raw(os.path.join(config.interactions_dir, "data.csv"), raw)
    with pytest.raises(Exception) as failure:
        local_runner.run(config, printer=lambda line: None)
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))
    return str(failure.value)


def _rows():
    return generator.generate(generator.SIZES["tiny"])["interactions"][:200]


def test_missing_column_is_named(tmp_path):
    rows = _rows()
    columns = [c for c in schema.INTERACTION_COLUMNS if c != schema.QUERY]
    for r in rows:
        del r[schema.QUERY]
    message = _run_on(tmp_path, rows, columns)
    assert "missing column(s) query" in message and "data.csv" in message


def test_non_numeric_timestamp_names_line_and_column(tmp_path):
    rows = _rows()
    rows[41][schema.TIMESTAMP] = "2024-01-01T10:00"
    message = _run_on(tmp_path, rows, schema.INTERACTION_COLUMNS)
    assert "line 43" in message and "'timestamp'" in message
    assert "not an integer Unix time" in message


def test_unknown_column_has_no_masking_rule(tmp_path):
    rows = _rows()
    for r in rows:
        r["passport"] = "E12345678"
    message = _run_on(tmp_path, rows, list(schema.INTERACTION_COLUMNS) + ["passport"])
    assert "passport" in message and "no role in masking policy" in message
    assert "E12345678" not in message


def test_missing_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(pseudonymizer.KEY_ENV, raising=False)
    monkeypatch.delenv(pseudonymizer.KEY_FILE_ENV, raising=False)
    config = configs.local_config(str(tmp_path), train_steps=2)
    generator.write_dataset(config.data_dir, "tiny")
    with pytest.raises(Exception, match="no pseudonymisation key"):
        local_runner.run(config, printer=lambda line: None)
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))


def test_value_outside_the_randomisation_domain_names_line_and_column(tmp_path):
    rows = _rows()
    rows[9]["gender"] = "Female (self-described)"
    message = _run_on(tmp_path, rows, schema.INTERACTION_COLUMNS)
    assert "line 11" in message and "'gender'" in message and "domain" in message
    assert "self-described" not in message  # values of policy columns are never echoed


def test_too_much_k_anonymity_suppression_stops_the_run_with_advice(tmp_path, monkeypatch):
    """80 users over the default policy's 10-year bands: too many users alone in a class."""
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    config = configs.local_config(str(tmp_path), train_steps=2)  # default policy, k_min 5
    generator.write_dataset(config.data_dir, "tiny")
    with pytest.raises(Exception, match=r"k-anonymity: \d+ of 3000 rows .* fewer than k_min=5 "
                       r"users over birth_date, city.*Generalise more") as failure:
        local_runner.run(config, printer=lambda line: None)
    assert "masking_report.html" in str(failure.value)
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))


def assert_nothing_published(config, component: str, artifact_type: str):
    """The failed component's outputs are gone from disk and none is LIVE in MLMD: a later run
    cannot pick up a half-written artifact (TFX removes a failed execution's output dirs)."""
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))
    outputs = os.path.join(config.pipeline_root, component)
    written = [os.path.join(d, f) for d, _, files in os.walk(outputs) for f in files
               if ".system" not in d]
    assert written == []
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    failed = [e for e in store.get_executions()
              if e.last_known_state == metadata_store_pb2.Execution.FAILED]
    assert len(failed) == 1
    assert [a for a in store.get_artifacts_by_type(artifact_type)
            if a.state == metadata_store_pb2.Artifact.LIVE] == []


def _write_raw(path, text: bytes):
    with open(path, "wb") as f:
        f.write(text)


def _csv_bytes(rows, columns=schema.INTERACTION_COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_latin1_bytes_name_file_line_column_and_the_fix_and_publish_nothing(tmp_path):
    """Mid-file bytes that are not UTF-8 fail inside Beam; the message still says where."""
    rows = _rows()
    rows[57]["query"] = "café"
    raw = _csv_bytes(rows).replace("café".encode("utf-8"), "café".encode("latin-1"))
    config = configs.local_config(str(tmp_path), allow_dev_key=True, train_steps=2,
                                  time_window=generator.TIME_WINDOW)
    data = generator.generate(generator.SIZES["tiny"])
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    os.makedirs(config.interactions_dir)
    _write_raw(os.path.join(config.interactions_dir, "data.csv"), raw)
    with pytest.raises(Exception) as failure:
        local_runner.run(config, printer=lambda line: None)
    message = str(failure.value)
    assert "data.csv, line 59, column 'query'" in message and "not UTF-8" in message
    assert "0xe9" in message and "iconv" in message and "café" not in message
    assert_nothing_published(config, "MaskingExampleGen", "Examples")


def test_unclosed_quote_names_the_line_it_opens_on_and_the_column(tmp_path):
    raw = _csv_bytes(_unquoted(_rows())).splitlines(keepends=True)
    raw[121] = _open_quote_in_last_column(raw[121])
    message = _run_on_bytes(tmp_path, b"".join(raw))
    assert "data.csv, lines 122-201, column 'event_type'" in message
    assert "quote is probably never closed" in message and "fix the quoting of line 122" in message


def _open_quote_in_last_column(line: bytes) -> bytes:
    head, _, last = line.rpartition(b",")
    return head + b',"' + last


def _unquoted(rows):
    """Rows no CSV field of which needs quotes (the quote planted is then the only one)."""
    for r in rows:
        r["address"] = r["address"].replace(",", "")
    return rows


def test_row_with_an_extra_field_names_its_line(tmp_path):
    raw = _csv_bytes(_rows()).splitlines(keepends=True)
    raw[30] = raw[30].rstrip(b"\n") + b",surplus\n"
    message = _run_on_bytes(tmp_path, b"".join(raw))
    assert "data.csv, line 31: 15 fields where the header has 14" in message
    assert "extra field(s) after column 'event_type'" in message and "surplus" not in message


def test_empty_and_header_only_files(tmp_path):
    assert "the file is empty; expected a header row" in _run_on_bytes(tmp_path / "a", b"")
    header_only = _csv_bytes([])
    message = _run_on_bytes(tmp_path / "b", header_only)
    assert "data.csv: only header rows, no interactions" in message


def test_malformed_helpers_on_a_large_file(tmp_path):
    """An unclosed quote in a large file overflows the csv module's field limit (csv.Error):
    the record's first line and column are still named (no pipeline run needed)."""
    rows = _unquoted(generator.generate(generator.SIZES["tiny"])["interactions"])
    raw = _csv_bytes(rows).splitlines(keepends=True)
    raw[10] = _open_quote_in_last_column(raw[10])
    path = str(tmp_path / "big.csv")
    _write_raw(path, b"".join(raw))
    with pytest.raises(malformed.InputDataError) as failure:
        list(reading.read_rows(path, policy.load(policy.TINY_POLICY)))
    assert f"{path}, lines 11-" in str(failure.value) and "field larger than field limit" in \
        str(failure.value) and "column 'event_type'" in str(failure.value)
    assert malformed.not_utf8(path) is None
