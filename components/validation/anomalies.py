"""ExampleValidator's anomalies -> one message per anomaly, naming the feature, what is wrong
and which entry of the curated schema to relax if the data is right and the schema is not;
DistributionValidator's drift and skew anomalies -> the same, naming the comparator and the
threshold in pipeline/configs.py to relax.
"""
import os
from typing import Callable, Dict, List, Optional

from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.io import fileio

ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator's file per split (tfx 1.16)
SPLIT_DIR, SPLIT_PAIR_DIR = "Split-", "SplitPair-"  # ExampleValidator's, DistributionValidator's

# DistributionValidator's anomaly types -> the comparator (PipelineConfig.drift / .skew key).
_COMPARATOR = {
    anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH: "l_infinity",
    anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH: "jensen_shannon",
}

# Anomaly type name (prefix or suffix) -> the schema entry that decides it.
_SCHEMA_FIELD = (
    ("ENUM_TYPE_UNEXPECTED_STRING_VALUES", "the values of its string_domain"),
    ("_SMALL_INT", "int_domain min"), ("_BIG_INT", "int_domain max"),
    ("_SMALL_FLOAT", "float_domain min"), ("_BIG_FLOAT", "float_domain max"),
    ("FLOAT_TYPE_HAS_NAN", "float_domain disallow_nan"),
    ("FLOAT_TYPE_HAS_INF", "float_domain disallow_inf"),
    ("FEATURE_TYPE_LOW_FRACTION_PRESENT", "presence min_fraction"),
    ("FEATURE_TYPE_LOW_NUMBER_PRESENT", "presence min_count"),
    ("FEATURE_TYPE_NOT_PRESENT", "presence"), ("SCHEMA_MISSING_COLUMN", "presence"),
    ("SCHEMA_NEW_COLUMN", "a new `feature` entry for it"),
    ("_NUMBER_VALUES", "shape / value_count"), ("FEATURE_TYPE_NO_VALUES", "shape / value_count"),
    ("INVALID_FEATURE_SHAPE", "shape"),
    ("BOOL_TYPE_", "type"), ("ENUM_TYPE_", "type"), ("FLOAT_TYPE_", "type"),
    ("INT_TYPE_", "type"), ("STRING_TYPE_", "type"), ("UNEXPECTED_DATA_TYPE", "type"),
    ("DATASET_", "dataset_constraints"),
)


class DataAnomaliesError(RuntimeError):
    """The examples do not match the curated schema; the message lists every anomaly."""


def schema_field(reason_type: int) -> str:
    name = anomalies_pb2.AnomalyInfo.Type.Name(reason_type)
    return next((field for key, field in _SCHEMA_FIELD if key in name), "its `feature` entry")


def read(anomalies_uri: str, splits: List[str],
         split_dir: str = SPLIT_DIR) -> Dict[str, anomalies_pb2.Anomalies]:
    """The Anomalies proto of each split (or split pair) under an ExampleAnomalies artifact."""
    found = {}
    for split in splits:
        with fileio.open(os.path.join(anomalies_uri, f"{split_dir}{split}", ANOMALIES_FILE),
                         "rb") as f:
            found[split] = anomalies_pb2.Anomalies.FromString(f.read())
    return found


def comparison_fix(check: str, thresholds: Dict[str, Dict[str, float]]
                   ) -> Callable[[str, int], str]:
    """The fix of a drift or skew anomaly: the PipelineConfig threshold to relax."""
    def fix(feature: str, reason_type: int) -> str:
        comparator = _COMPARATOR.get(reason_type)
        if comparator is None:  # STATS_NOT_AVAILABLE: the feature has no statistics to compare
            return (f"check that '{feature}' is in the examples, or remove it from "
                    f"PipelineConfig.{check} (pipeline/configs.py)")
        return (f"relax PipelineConfig.{check} (pipeline/configs.py): {comparator}"
                f"['{feature}'], now {thresholds.get(comparator, {}).get(feature)}")
    return fix


def describe(per_split: Dict[str, anomalies_pb2.Anomalies], schema_file: str,
             checks_file: str, fix: Optional[Callable[[str, int], str]] = None,
             unit: str = " split") -> List[str]:
    """One line per (feature, anomaly): feature, split(s), short and long description, fix
    (default: the curated schema entry; `fix(feature, anomaly type)` for comparisons)."""
    found = {}  # (feature or None: the data set, short description, fix) -> [(split, details)]
    for split, anomalies in sorted(per_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            for reason in info.reason or [info]:
                reason_type = getattr(reason, "type", anomalies_pb2.AnomalyInfo.UNKNOWN_TYPE)
                if fix is not None:
                    remedy = fix(feature, reason_type)
                elif reason_type == anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION:
                    remedy = f"relax the check of '{feature}' in {checks_file}"
                else:
                    remedy = (f"relax {schema_file}: feature '{feature}', "
                              f"{schema_field(reason_type)}")
                found.setdefault((feature, reason.short_description, remedy), []).append(
                    (split, reason.description.strip()))
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.setdefault((None, info.short_description,
                              f"relax {schema_file}: dataset_constraints"), []).append(
                (split, info.description.strip()))
    lines = []
    for (feature, short, fix_text), details in found.items():
        splits = ", ".join(split for split, _ in details)
        if len({description for _, description in details}) == 1:
            what = f"({splits}{unit}): {short}: {details[0][1]}"
        else:  # e.g. the share of unexpected values differs per split
            what = f"({splits}{unit}): {short}: " + " ".join(
                f"[{split}] {description}" for split, description in details)
        where = "the data set" if feature is None else f"feature '{feature}'"
        lines.append(f"{where} {what} -> fix the data, or {fix_text}")
    return lines


def _without_uncompared(anomalies: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """Drops DistributionValidator's "Comparison could not be done" (a configured feature
    without values to compare, e.g. MovieLens has no order amounts). A feature missing from the
    examples is the curated schema's anomaly (presence), reported by ExampleValidator."""
    kept = anomalies_pb2.Anomalies()
    kept.CopyFrom(anomalies)
    for feature, info in anomalies.anomaly_info.items():
        reasons = [r for r in info.reason
                   if r.type != anomalies_pb2.AnomalyInfo.STATS_NOT_AVAILABLE]
        if len(reasons) < len(info.reason):
            logging.warning("%s: not compared (no values to compare)", feature)
        del kept.anomaly_info[feature].reason[:]
        kept.anomaly_info[feature].reason.extend(reasons)
        if not reasons:
            del kept.anomaly_info[feature]
    return kept


def describe_comparisons(per_pair: Dict[str, anomalies_pb2.Anomalies], check: str,
                         thresholds: Dict[str, Dict[str, float]]) -> List[str]:
    """DistributionValidator's anomalies per split pair ('eval_train': eval compared with
    train) -> lines like describe's, e.g. "feature 'gender' (skew: eval vs train): ..."."""
    def label(pair: str) -> str:
        compared, baseline = pair.split("_", 1)
        return f"{compared} vs " + (
            f"the previous run's {baseline}" if check == "drift" else baseline)
    compared = {label(pair): _without_uncompared(anomalies)
                for pair, anomalies in per_pair.items()}
    lines = describe(compared, "", "",
                     fix=comparison_fix(check, thresholds), unit="")
    return [line.replace(" (", f" ({check}: ", 1) for line in lines]


def check(per_split: Dict[str, anomalies_pb2.Anomalies], schema_file: str,
          checks_file: str, comparison_lines: List[str] = ()) -> None:
    """Raises DataAnomaliesError listing every anomaly (schema, then drift and skew lines);
    returns when there is none."""
    lines = describe(per_split, schema_file, checks_file) + list(comparison_lines)
    if lines:
        against = f"the curated schema {schema_file}" + (
            " and the drift / skew thresholds" if comparison_lines else "")
        raise DataAnomaliesError(
            f"data validation: {len(lines)} anomal{'y' if len(lines) == 1 else 'ies'} against "
            f"{against}; the run stops before Transform:\n  " + "\n  ".join(lines))
