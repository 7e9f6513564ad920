"""Drift and training/serving skew checks with TFX's DistributionValidator (TFDV comparators).

- Drift: this run's statistics against the previous run's (with daily spans, the previous
  span's), split by split. The first run has no previous statistics: DistributionValidator then
  compares nothing (it records `blessed` = 2, "no baseline", in MLMD).
- Skew: this run's eval split against its train split. There are no serving request logs; the
  eval split, the latest share of the time range, is what the model is judged on and the
  closest stand-in for serving traffic.

Thresholds come from PipelineConfig.drift / .skew (pipeline/configs.py). DistributionValidator
puts them on a schema as `drift_comparator`s (L-infinity / Jensen-Shannon) and calls
tfdv.validate_statistics(previous_statistics=baseline), keeping only the comparison anomalies;
AnomalyGate turns them into one line per feature naming the comparator and the threshold.
"""
from typing import Optional

from tfx import v1 as tfx
from tfx.components.distribution_validator.component import DistributionValidator
from tfx.dsl.input_resolution import canned_resolver_functions
from tfx.proto import distribution_validator_pb2

from components.validation.thresholds import DistributionThresholds

DRIFT_ID, SKEW_ID = "DriftValidator", "SkewValidator"
SKEW_SPLIT_PAIR = ("eval", "train")  # (compared split, baseline split)
STATISTICS_GEN_ID = "StatisticsGen"


def validator_config(thresholds: DistributionThresholds
                     ) -> distribution_validator_pb2.DistributionValidatorConfig:
    """DistributionValidator's config: one comparator per configured feature."""
    config = distribution_validator_pb2.DistributionValidatorConfig()
    for name, threshold in sorted(thresholds.l_infinity.items()):
        feature = config.default_slice_config.feature.add()
        feature.path.step.append(name)
        feature.distribution_comparator.infinity_norm.threshold = threshold
    for name, threshold in sorted(thresholds.jensen_shannon.items()):
        feature = config.default_slice_config.feature.add()
        feature.path.step.append(name)
        feature.distribution_comparator.jensen_shannon_divergence.threshold = threshold
    return config


def previous_statistics():
    """The StatisticsGen output created before this run's: the latest two of every run of the
    pipeline, minus the latest (this run's, since the validator runs after StatisticsGen)."""
    every_run = tfx.dsl.Channel(type=tfx.types.standard_artifacts.ExampleStatistics,
                                producer_component_id=STATISTICS_GEN_ID, output_key="statistics")
    latest_two = canned_resolver_functions.latest_created(every_run, n=2)
    # Optional: on the first run the slice is empty, and DistributionValidator then compares
    # nothing instead of being skipped.
    return canned_resolver_functions.slice(latest_two, start=-2, stop=-1).as_optional()


def drift_validator(statistics, thresholds: Optional[DistributionThresholds]):
    if thresholds is None:
        return None
    return DistributionValidator(statistics=statistics, baseline_statistics=previous_statistics(),
                                 config=validator_config(thresholds)).with_id(DRIFT_ID)


def skew_validator(statistics, thresholds: Optional[DistributionThresholds]):
    if thresholds is None:
        return None
    return DistributionValidator(statistics=statistics, baseline_statistics=statistics,
                                 config=validator_config(thresholds),
                                 include_split_pairs=[SKEW_SPLIT_PAIR]).with_id(SKEW_ID)
