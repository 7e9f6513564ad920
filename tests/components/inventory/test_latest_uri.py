"""components/inventory/summary.py's latest_uri on a small MLMD store written here (no
pipeline run): the newest DataInventory artifact, and what to do when there is none."""
import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from components.inventory import files, summary


def _store(path, uris):
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = mlmd.MetadataStore(config)
    type_id = store.put_artifact_type(pb.ArtifactType(name=files.TYPE_NAME))
    store.put_artifacts([pb.Artifact(type_id=type_id, uri=uri) for uri in uris])


def test_the_newest_inventory_of_the_store(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    _store(path, ["/runs/first", "/runs/second"])
    assert summary.latest_uri(path) == "/runs/second"


def test_no_store_or_no_inventory_says_what_to_do(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    with pytest.raises(LookupError, match="no MLMD store .*pass --work-dir / --metadata"):
        summary.latest_uri(path)
    _store(path, [])
    with pytest.raises(LookupError, match=f"no {files.TYPE_NAME} artifact"):
        summary.latest_uri(path)
