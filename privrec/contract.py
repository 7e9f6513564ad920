"""What a pushed model promises its readers: the serving and eval contract.

The trainer writes a model version directory to these names (trainer/export.py), the model
server and its client serve it (serving/), the Evaluator's privacy gate and the model card read
it (trainer/privacy_metric.py, components/model_card/). The names live here, in the core, so
that each of them depends on the contract and none on another.
"""
import json
import os
from typing import Dict

MODEL_NAME = "privrec"  # default model name: <serving root>/<model name>/<version>/

# Signatures of the exported SavedModel.
SERVING_SIGNATURE = "serving_default"  # raw request in, top-k catalog items out
EVAL_SIGNATURE = "eval"  # serialized masked tf.Examples in, per-example rank, hits and ε out

# Output of the eval signature: the ε the model was trained with, on every example.
EPSILON_KEY = "privacy_epsilon"

# The privacy report, in <model version directory>/assets.extra/ (pushed with the model).
PRIVACY_FILE = "privacy.json"

# Outputs of the serving signature beside "item_ids" and "scores": the top-k items' titles, and
# the query as the model saw it, masked by the same ops as ingestion (the try-it page shows it).
TITLES_KEY = "titles"
MASKED_QUERY_KEY = "masked_query"

# The public catalog the model ranks (item_id, title per row), in assets.extra/ beside the
# privacy report; the REST API serves it to the try-it page's picker.
CATALOG_FILE = "catalog.json"

# Serving
SERVING_PORT = 8500
SERVING_MAX_BATCH_SIZE = 1024              # rows per Predict request; more: INVALID_ARGUMENT
SERVING_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # gRPC receive/send limit (gRPC's own default)
SERVING_TOKENS_FILE_ENV = "PRIVREC_SERVING_TOKENS_FILE"  # bearer tokens, one per line


def read_privacy_report(model_dir: str) -> Dict:
    """The privacy report of a model version directory (pushed, or a Model artifact's
    Format-Serving), local or remote."""
    import tensorflow as tf
    with tf.io.gfile.GFile(os.path.join(model_dir, "assets.extra", PRIVACY_FILE)) as f:
        return json.load(f)
