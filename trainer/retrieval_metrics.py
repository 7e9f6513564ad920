"""TFMA metric for retrieval: Recall@K over the whole catalog, per model (candidate/baseline).

The model's `eval` signature returns `hit_at_{k}` per example (1 when the true item is in the
top k of a brute-force ranking of the full catalog); this metric averages it. Unlike
`tfma.metrics.Mean` it is model-aware, so the Evaluator can compare a candidate with the
latest blessed baseline.
"""
from typing import Dict, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.metrics import metric_types


def hit_key(k: int) -> str:
    return f"hit_at_{k}"


def model_predictions(element: metric_types.StandardMetricInputs, model_name: str) -> Dict:
    """The eval signature's outputs for one model (TFMA keys them by model when there are two)."""
    predictions = element.predictions
    if isinstance(predictions, dict) and model_name in predictions:
        predictions = predictions[model_name]
    return predictions


def per_model_computations(name: str, model_names: Optional[List[str]],
                           make_combiner) -> metric_types.MetricComputations:
    """One computation per model (candidate, baseline) over the predictions only."""
    computations = []
    for model_name in model_names or [""]:
        key = metric_types.MetricKey(name=name, model_name=model_name)
        computations.append(metric_types.MetricComputation(
            keys=[key],
            preprocessors=[metric_types.StandardMetricInputsPreprocessor(
                include_filter={constants.PREDICTIONS_KEY: {}}, include_default_inputs=False)],
            combiner=make_combiner(key, model_name)))
    return computations


class _MeanHitCombiner(beam.CombineFn):
    def __init__(self, key: metric_types.MetricKey, model_name: str, k: int):
        self._key, self._model_name, self._k = key, model_name, k

    def create_accumulator(self):
        return np.zeros(2)  # [hits, examples]

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        predictions = model_predictions(element, self._model_name)
        if hit_key(self._k) not in predictions:
            raise ValueError(f"the eval signature has no output '{hit_key(self._k)}'; add "
                             f"{self._k} to TrainerConfig.eval_ks")
        accumulator += (float(np.ravel(predictions[hit_key(self._k)])[0]), 1.0)
        return accumulator

    def merge_accumulators(self, accumulators):
        return np.sum(list(accumulators), axis=0)

    def extract_output(self, accumulator) -> Dict[metric_types.MetricKey, float]:
        hits, examples = accumulator
        return {self._key: hits / examples if examples else float("nan")}


def _recall_at_k(k: int, name: str, model_names: Optional[List[str]] = None,
                 **_) -> metric_types.MetricComputations:
    return per_model_computations(
        name, model_names, lambda key, model_name: _MeanHitCombiner(key, model_name, k))


class RecallAtK(tfma.metrics.Metric):
    """Share of eval examples whose true item is in the model's top k."""

    def __init__(self, k: int = 10, name: Optional[str] = None):
        super().__init__(_recall_at_k, k=k, name=name or f"recall_at_{k}")


metric_types.register_metric(RecallAtK)
