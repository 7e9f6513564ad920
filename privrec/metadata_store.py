"""A finished run's MLMD store, opened read-only: what the run report (privrec/app/report/)
and `privrec inventory` (components/inventory/summary.py) read a run from. Read-only, so reading
never creates a store where there was none and never writes to a run's record. Also where a
local run keeps its store (METADATA_FILE, in_work_dir)."""
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

# A local run's store, in its work directory (pipeline/configs.py's local_config): where the
# run report and `privrec inventory` look for it.
METADATA_FILE = "metadata.sqlite"


def in_work_dir(work_dir: str) -> str:
    """The path of the MLMD store of a local run in `work_dir`."""
    return os.path.join(work_dir, METADATA_FILE)


def read_only(metadata_path: str, advice: str = "run the pipeline first") -> mlmd.MetadataStore:
    """The SQLite MLMD store at `metadata_path`; a missing file is a LookupError naming it,
    followed by `advice` (what the reader's user should do)."""
    if not os.path.exists(metadata_path):
        raise LookupError(f"no MLMD store at {metadata_path}: {advice}")
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(connection)
