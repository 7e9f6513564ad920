"""trainer/privacy_metric.py: the TFMA metric that reports each model's recorded ε."""
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs, metric_types

from privrec.contract import EPSILON_KEY
from trainer import privacy_metric


def _inputs(predictions):
    return metric_types.StandardMetricInputs(predictions=predictions)


def _combine(combiner, batches):
    """Beam's order: one accumulator per bundle, merged, then extracted."""
    accumulators = []
    for batch in batches:
        accumulator = combiner.create_accumulator()
        for element in batch:
            accumulator = combiner.add_input(accumulator, element)
        accumulators.append(accumulator)
    return combiner.extract_output(combiner.merge_accumulators(accumulators))


def _combiners(model_names):
    computations = privacy_metric.PrivacyEpsilon().computations(model_names=model_names)
    return {c.keys[0]: c.combiner for c in computations}


def test_one_computation_per_model_keyed_by_epsilon():
    assert set(_combiners(["candidate", "baseline"])) == {
        metric_types.MetricKey(name=EPSILON_KEY, model_name=name)
        for name in ("candidate", "baseline")}
    assert set(_combiners(None)) == {metric_types.MetricKey(name=EPSILON_KEY, model_name="")}


def test_each_model_reports_its_own_epsilon_across_bundles():
    combiners = _combiners(["candidate", "baseline"])
    examples = [_inputs({"candidate": {EPSILON_KEY: np.array([2.5]), "hits": np.ones(3)},
                         "baseline": {EPSILON_KEY: np.array([[7.0]])}}) for _ in range(5)]
    for key, combiner in combiners.items():
        expected = 2.5 if key.model_name == "candidate" else 7.0
        assert _combine(combiner, [examples[:2], examples[2:], []]) == {key: expected}


def test_a_single_model_reads_unkeyed_predictions():
    ((key, combiner),) = _combiners(None).items()
    assert _combine(combiner, [[_inputs({EPSILON_KEY: np.float32(1.25)})] * 3]) == {key: 1.25}


def test_no_examples_is_nan():
    ((key, combiner),) = _combiners(None).items()
    assert math.isnan(_combine(combiner, [[]])[key])


def test_differing_epsilons_fail_loudly_even_across_bundles():
    ((_, combiner),) = _combiners(None).items()
    with pytest.raises(ValueError, match=r"several ε: \[1.0, 2.0\]"):
        _combine(combiner, [[_inputs({EPSILON_KEY: np.array([1.0])})],
                            [_inputs({EPSILON_KEY: np.array([2.0])})]])


def test_a_model_exported_without_epsilon_is_named():
    ((_, combiner),) = _combiners(["candidate"]).items()
    with pytest.raises(ValueError, match="model 'candidate' has no output"):
        combiner.add_input(combiner.create_accumulator(), _inputs({"candidate": {"hits": 1}}))


def test_the_evaluator_can_rebuild_it_from_its_config():
    specs = tfma.metrics.specs_from_metrics([privacy_metric.PrivacyEpsilon()])
    (config,) = [m for spec in specs for m in spec.metrics if m.class_name == "PrivacyEpsilon"]
    rebuilt = metric_specs.metric_instance(config)
    assert isinstance(rebuilt, privacy_metric.PrivacyEpsilon) and rebuilt.name == EPSILON_KEY
