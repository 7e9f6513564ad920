"""The Evaluator's output as plain numbers: retrieval metrics per model (the candidate and the
last blessed baseline) and slice. The thresholds the candidate failed are pipeline/
run_summary.py's gate_failures."""
from typing import Dict

import tensorflow_model_analysis as tfma

OVERALL = "overall"


KNOWN_SLICES = {("cold_start_item", 0): "items seen in training",
                ("cold_start_item", 1): "cold-start items (no training interaction)"}


def _slice_name(slice_key) -> str:
    keys = [(k.column, getattr(k, k.WhichOneof("kind"))) for k in slice_key.single_slice_keys]
    if not keys:
        return OVERALL
    return ", ".join(KNOWN_SLICES.get((column, value), f"{column} = {value}")
                     for column, value in keys)


def per_slice(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{slice: {model ('candidate' / 'baseline'): {metric: value}}}; no diffs."""
    found: Dict[str, Dict[str, Dict[str, float]]] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        models = found.setdefault(_slice_name(slice_metrics.slice_key), {})
        for entry in slice_metrics.metric_keys_and_values:
            key = entry.key
            if key.is_diff or not entry.value.HasField("double_value"):
                continue
            models.setdefault(key.model_name or "candidate", {})[key.name] = \
                entry.value.double_value.value
    return found

