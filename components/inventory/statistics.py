"""Per-column figures read from StatisticsGen's TFDV statistics (one entry per split).

Completeness, cardinality/uniqueness, lengths, moments, quantiles, histograms and top values
are TFDV's numbers; this module only selects them and leaves out what the column's privacy
class withholds (classes.py): no value of a withheld column is ever copied.
"""
from typing import Dict, List, Optional

from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.components.statistics_gen import stats_artifact_utils

from components.inventory import classes

Feature = statistics_pb2.FeatureNameStatistics


def load(statistics_artifact,
         splits: List[str]) -> Dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """The TFDV statistics of each split (tfdv's loader, via TFX's artifact helper)."""
    return {split: stats_artifact_utils.load_statistics(statistics_artifact, split)
            .proto().datasets[0] for split in splits}


def feature_name(feature: Feature) -> str:
    return feature.path.step[0] if feature.path.step else feature.name


def _common(feature: Feature) -> statistics_pb2.CommonStatistics:
    return (feature.num_stats.common_stats if feature.HasField("num_stats")
            else feature.string_stats.common_stats)


def _empty_strings(feature: Feature) -> int:
    """Examples whose value is "" (TFDV's top values / rank histogram hold the count if "" is
    among the most frequent 1000 values; rarer empties count as filled)."""
    for top in feature.string_stats.top_values:
        if top.value == "":
            return int(top.frequency)
    for bucket in feature.string_stats.rank_histogram.buckets:
        if bucket.label == "":
            return int(bucket.sample_count)
    return 0


def _top_values(feature: Feature, top: int, min_count: int):
    return [[v.value, int(v.frequency)] for v in feature.string_stats.top_values
            if v.frequency >= min_count][:top]


def _standard_histogram(feature: Feature):
    for histogram in feature.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.STANDARD:
            return [[b.low_value, b.high_value, b.sample_count] for b in histogram.buckets]
    return []


def split_figures(feature: Feature, num_examples: int, withheld: Optional[str], top: int,
                  min_count: int) -> Dict:
    """One column in one split: the numbers TFDV computed, minus withheld values."""
    common = _common(feature)
    # A column of at most one value per example: its number of values is the number of
    # examples that have one (TFDV counts an empty value list as present, not missing).
    with_value = int(common.tot_num_values) if common.max_num_values <= 1 \
        else int(common.num_non_missing)
    figures = {"examples": num_examples, "missing": int(common.num_missing)}
    if feature.HasField("string_stats"):
        strings = feature.string_stats
        empty = _empty_strings(feature)
        figures.update(empty=empty, cardinality=int(strings.unique),
                       uniqueness=strings.unique / with_value if with_value else None,
                       avg_length=strings.avg_length)
        if withheld is None:
            figures["top_values"] = _top_values(feature, top, min_count)
            figures["other_count"] = with_value - sum(c for _, c in figures["top_values"])
    else:
        empty = 0
        numbers = feature.num_stats
        figures["zeros"] = int(numbers.num_zeros)
    if feature.HasField("num_stats") and withheld is None:
        figures.update(mean=numbers.mean, std_dev=numbers.std_dev, min=numbers.min,
                       median=numbers.median, max=numbers.max,
                       histogram=_standard_histogram(feature))
    figures["completeness"] = (with_value - empty) / num_examples if num_examples else None
    return figures


def summarize(stats: Dict[str, statistics_pb2.DatasetFeatureStatistics],
              policy_columns: Dict[str, Dict], max_categories: int, top: int,
              min_count: int) -> Dict[str, Dict]:
    """Per column: type, privacy class, what is withheld and why, figures per split."""
    features: Dict[str, Dict[str, Feature]] = {}
    for split, dataset in stats.items():
        for feature in dataset.features:
            features.setdefault(feature_name(feature), {})[split] = feature
    columns = {}
    for name, rule in policy_columns.items():
        if name not in features:
            columns[name] = {"released": False, "role": rule["role"], "action": rule["action"],
                             "privacy_class": classes.CLASSES[rule["role"]]}
    for name, per_split in features.items():
        role = classes.role(name, policy_columns)
        feature_type = Feature.Type.Name(next(iter(per_split.values())).type)
        cardinality = max((f.string_stats.unique for f in per_split.values()
                           if f.HasField("string_stats")), default=None)
        withheld = classes.withheld_reason(role, feature_type, cardinality, max_categories)
        columns[name] = {
            "released": True, "type": feature_type, "role": role,
            "action": policy_columns.get(name, {}).get("action", "added by ExampleGen"),
            "privacy_class": classes.CLASSES[role], "values_withheld": withheld,
            "association": classes.association_kind(role, feature_type, withheld),
            "splits": {split: split_figures(feature, stats[split].num_examples, withheld, top,
                                            min_count)
                       for split, feature in per_split.items()}}
    return columns
