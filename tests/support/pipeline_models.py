"""A pipeline root's Model artifacts in MLMD and the privacy ledger each one carries."""
import json
from typing import List

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from privrec.privacy import span_ledger


def models(metadata_path: str) -> List[metadata_store_pb2.Artifact]:
    """Every Model artifact in the MLMD at `metadata_path`, oldest first."""
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    return sorted(store.get_artifacts_by_type("Model"), key=lambda a: a.id)


def ledger(model: metadata_store_pb2.Artifact) -> dict:
    """The privacy ledger the SpanTrainer wrote into the Model's MLMD properties."""
    return json.loads(model.custom_properties[span_ledger.LEDGER_PROPERTY].string_value)


def latest_ledger(metadata_path: str) -> dict:
    """The ledger of the newest Model at `metadata_path`."""
    return ledger(models(metadata_path)[-1])
