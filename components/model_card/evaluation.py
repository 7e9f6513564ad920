"""The candidate model's metrics from the Evaluator's output (TFMA), which the model card
reports and `privrec run` prints (pipeline/run_summary.py)."""
from typing import Dict

import tensorflow_model_analysis as tfma

from privrec.contract import EPSILON_KEY
from privrec.data import schema

CANDIDATE = "candidate"  # the model spec name in pipeline.eval_config

COLD_START_PREFIX = "cold_start_"


def candidate_metrics(evaluation_uri: str) -> Dict[str, float]:
    """The candidate model's retrieval metrics, coverage and ε from the Evaluator's output:
    overall, and on the cold-start slice (items first seen after training) prefixed
    `cold_start_`."""
    metrics = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        slice_keys = {k.column: k.int64_value for k in slice_metrics.slice_key.single_slice_keys}
        if not slice_keys:
            prefix = ""
        elif slice_keys == {schema.COLD_START_ITEM: 1}:
            prefix = COLD_START_PREFIX
        else:
            continue
        for key in slice_metrics.metric_keys_and_values:
            name = key.key.name
            if (name.startswith(("recall_at_", "ndcg_at_")) or name in ("mrr", "catalog_coverage")
                    or (name == EPSILON_KEY and not prefix)) \
                    and not key.key.is_diff and key.key.model_name in ("", CANDIDATE):
                metrics[prefix + name] = key.value.double_value.value
    return metrics
