"""ExampleValidator's anomalies -> one message per anomaly, naming the feature, what is wrong
and which entry of the curated schema to relax if the data is right and the schema is not.
"""
import os
from typing import Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.io import fileio

ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator's file per split (tfx 1.16)

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


def read(anomalies_uri: str, splits: List[str]) -> Dict[str, anomalies_pb2.Anomalies]:
    """The Anomalies proto of each split under an ExampleAnomalies artifact's uri."""
    found = {}
    for split in splits:
        with fileio.open(os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE), "rb") as f:
            found[split] = anomalies_pb2.Anomalies.FromString(f.read())
    return found


def describe(per_split: Dict[str, anomalies_pb2.Anomalies], schema_file: str,
             checks_file: str) -> List[str]:
    """One line per (feature, anomaly): feature, split(s), short and long description, fix."""
    found = {}  # (feature or None: the data set, short description, fix) -> [(split, details)]
    for split, anomalies in sorted(per_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            for reason in info.reason or [info]:
                reason_type = getattr(reason, "type", anomalies_pb2.AnomalyInfo.UNKNOWN_TYPE)
                if reason_type == anomalies_pb2.AnomalyInfo.CUSTOM_VALIDATION:
                    fix = f"relax the check of '{feature}' in {checks_file}"
                else:
                    fix = f"relax {schema_file}: feature '{feature}', {schema_field(reason_type)}"
                found.setdefault((feature, reason.short_description, fix), []).append(
                    (split, reason.description.strip()))
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.setdefault((None, info.short_description,
                              f"relax {schema_file}: dataset_constraints"), []).append(
                (split, info.description.strip()))
    lines = []
    for (feature, short, fix), details in found.items():
        splits = ", ".join(split for split, _ in details)
        if len({description for _, description in details}) == 1:
            what = f"({splits} split): {short}: {details[0][1]}"
        else:  # e.g. the share of unexpected values differs per split
            what = f"({splits} split): {short}: " + " ".join(
                f"[{split}] {description}" for split, description in details)
        where = "the data set" if feature is None else f"feature '{feature}'"
        lines.append(f"{where} {what} -> fix the data, or {fix}")
    return lines


def check(per_split: Dict[str, anomalies_pb2.Anomalies], schema_file: str,
          checks_file: str) -> None:
    """Raises DataAnomaliesError listing every anomaly; returns when there is none."""
    lines = describe(per_split, schema_file, checks_file)
    if lines:
        raise DataAnomaliesError(
            f"data validation: {len(lines)} anomal{'y' if len(lines) == 1 else 'ies'} against "
            f"the curated schema {schema_file}; the run stops before Transform:\n  "
            + "\n  ".join(lines))
