"""TFMA metric for the privacy gate: the ε the model was trained with, so the Evaluator refuses
(and the Pusher never pushes) a model over the configured budget.

The eval signature returns the model's recorded ε (trainer/export.py, computed by the run's
accountant) next to every example's hits; this metric reports it per model. An ε that is not
the same on every example means the signature is broken, and the metric fails loudly.
"""
import math
from typing import List, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from privrec.contract import EPSILON_KEY
from trainer.retrieval_metrics import model_predictions, per_model_computations



class _EpsilonCombiner(beam.CombineFn):
    def __init__(self, key: metric_types.MetricKey, model_name: str):
        self._key, self._model_name = key, model_name

    def create_accumulator(self):
        return set()

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        predictions = model_predictions(element, self._model_name)
        if EPSILON_KEY not in predictions:
            raise ValueError(f"the eval signature of model '{self._model_name}' has no output "
                             f"'{EPSILON_KEY}': it was exported before the privacy gate; "
                             "retrain it with this privrec")
        accumulator.add(float(np.ravel(predictions[EPSILON_KEY])[0]))
        return accumulator

    def merge_accumulators(self, accumulators):
        return set().union(*accumulators)

    def extract_output(self, accumulator):
        if len(accumulator) > 1:
            raise ValueError(f"model '{self._model_name}' reports several ε: {sorted(accumulator)}")
        return {self._key: accumulator.pop() if accumulator else math.nan}


def _privacy_epsilon(name: str, model_names: Optional[List[str]] = None,
                     **_) -> metric_types.MetricComputations:
    return per_model_computations(name, model_names, _EpsilonCombiner)


class PrivacyEpsilon(tfma.metrics.Metric):
    """The DP ε (at the model's δ) recorded by the Trainer's accountant."""

    def __init__(self, name: str = EPSILON_KEY):
        super().__init__(_privacy_epsilon, name=name)


metric_types.register_metric(PrivacyEpsilon)
