"""components/validation/thresholds.py: DistributionThresholds, as the validator config applies
them to TFDV statistics of tiny data sets with known distances, at and just over a threshold."""
import dataclasses
import functools

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from components.validation import distribution
from components.validation.thresholds import DistributionThresholds

# city shares: train a 1/2, b 1/2; eval a 3/4, b 1/4 -> L-infinity 1/4 (exact in binary).
TRAIN = pd.DataFrame({"city": ["a", "b", "a", "b"], "amount": [0.0, 0.5, 1.0, 0.7]})
EVAL = pd.DataFrame({"city": ["a", "a", "a", "b"], "amount": [100.0, 100.5, 101.0, 100.2]})


@functools.lru_cache(maxsize=None)
def _statistics():
    return tuple(tfdv.generate_statistics_from_dataframe(d) for d in (TRAIN, EVAL))


def _drift(thresholds: DistributionThresholds):
    """{feature: (value, threshold)} of TFDV's drift measurements; the features in anomaly."""
    train, current = _statistics()
    schema = tfdv.infer_schema(train)
    config = distribution.validator_config(thresholds)
    for feature in config.default_slice_config.feature:
        tfdv.get_feature(schema, feature.path.step[0]).drift_comparator.CopyFrom(
            feature.distribution_comparator)
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=train)
    measured = {".".join(i.path.step): (m.value, m.threshold)
                for i in anomalies.drift_skew_info for m in i.drift_measurements}
    return measured, set(anomalies.anomaly_info)


def test_a_frozen_pair_of_per_feature_maps():
    thresholds = DistributionThresholds(l_infinity={"city": 0.1}, jensen_shannon={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        thresholds.l_infinity = {}
    assert [f.name for f in dataclasses.fields(DistributionThresholds)] == [
        "l_infinity", "jensen_shannon"]
    assert thresholds == DistributionThresholds({"city": 0.1}, {})


def test_l_infinity_at_the_distance_passes_just_below_it_fails():
    measured, flagged = _drift(DistributionThresholds({"city": 0.25}, {}))
    assert measured == {"city": (pytest.approx(0.25), 0.25)} and not flagged
    measured, flagged = _drift(DistributionThresholds({"city": 0.2499}, {}))
    assert measured["city"][0] == pytest.approx(0.25) and flagged == {"city"}


def test_jensen_shannon_of_disjoint_histograms_is_one_bit():
    measured, flagged = _drift(DistributionThresholds({}, {"amount": 1.0}))
    assert measured == {"amount": (pytest.approx(1.0), 1.0)} and not flagged
    _, flagged = _drift(DistributionThresholds({}, {"amount": 0.99}))
    assert flagged == {"amount"}


def test_a_feature_not_listed_is_not_compared():
    measured, flagged = _drift(DistributionThresholds({"city": 0.0}, {}))
    assert set(measured) == {"city"} and flagged == {"city"}
    assert _drift(DistributionThresholds({}, {})) == ({}, set())
