"""privrec/metadata_store.py: a run's MLMD store opened read-only, a missing one named."""
import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from privrec import metadata_store


def test_a_missing_store_is_named_with_the_advice(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    with pytest.raises(LookupError, match=f"no MLMD store at {path}: do this first$"):
        metadata_store.read_only(path, "do this first")
    assert not (tmp_path / "metadata.sqlite").exists()  # reading never creates one


def test_a_store_is_read_but_not_written(tmp_path):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.sqlite")
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    mlmd.MetadataStore(config).put_artifact_type(pb.ArtifactType(name="Examples"))
    store = metadata_store.read_only(config.sqlite.filename_uri)
    assert [t.name for t in store.get_artifact_types()] == ["Examples"]
    with pytest.raises(Exception, match="(?i)read.?only"):
        store.put_artifact_type(pb.ArtifactType(name="Model"))
