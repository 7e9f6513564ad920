"""DataInventory executor: TFDV figures per column, Beam associations, freshness, lineage.

Writes inventory.json and inventory.html into the output artifact. What it may show of each
column is decided by its privacy class (classes.py): never a raw value (only masked examples
are read), never a pseudonym's or a free-text query's value or frequency.
"""
import datetime
import json
import os
from typing import Dict, List

import apache_beam as beam
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components.inventory import association, page, statistics
from components.inventory.files import HTML_FILE, JSON_FILE
from components.masking import report as masking_report
from privrec.data import schema

EXAMPLES, STATISTICS, MASKING_REPORT, INVENTORY = (
    "examples", "statistics", "masking_report", "inventory")
MAX_CATEGORIES, TOP_VALUES, MIN_VALUE_COUNT = "max_categories", "top_values", "min_value_count"
LINEAGE_PROPERTIES = ("input_fingerprint", "masking_policy_version", "masking_policy_sha256",
                      "pseudonym_key_fingerprint")


def _utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def freshness(examples, columns: Dict) -> List[Dict]:
    """The span's time range: min / max of the (hour-truncated) timestamp per split."""
    splits = {split: f for split, f in columns.get(schema.TIMESTAMP, {}).get("splits", {})
              .items() if "min" in f and f["examples"]}
    if not splits:
        return []
    return [{"span": examples.span, "version": examples.version,
             "first": _utc(min(f["min"] for f in splits.values())),
             "last": _utc(max(f["max"] for f in splits.values())),
             "splits": {split: {"first": _utc(f["min"]), "last": _utc(f["max"]),
                                "examples": f["examples"]} for split, f in splits.items()}}]


def lineage(examples, statistics_artifact, masking: Dict) -> Dict:
    """Where the data came from: the Examples artifact's custom properties (set by
    MaskingExampleGen) and the masking report's row counts; file names and hashes only."""
    properties = {name: examples.get_string_custom_property(name)
                  for name in LINEAGE_PROPERTIES}
    return {"examples_uri": examples.uri, "statistics_uri": statistics_artifact.uri,
            "span": examples.span, **properties,
            "source_files": json.loads(examples.get_string_custom_property("source_files")
                                       or "[]"),
            "rows_in": masking["rows_in"], "rows_out": masking["rows_out"],
            "rows_suppressed": masking["rows_suppressed"],
            "k_min": (masking.get("k_anonymity") or {}).get("k_min")}


def write(inventory: Dict, directory: str) -> None:
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, JSON_FILE), "w") as f:
        json.dump(inventory, f, indent=2, sort_keys=False)
    with tf.io.gfile.GFile(os.path.join(directory, HTML_FILE), "w") as f:
        f.write(page.to_html(inventory))


def _excluded(columns: Dict) -> Dict[str, str]:
    """Released columns left out of the associations, with the reason."""
    return {name: c["values_withheld"] or "not numeric or categorical"
            for name, c in columns.items() if c["released"] and not c["association"]}


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX's name)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES])
        statistics_artifact = artifact_utils.get_single_instance(input_dict[STATISTICS])
        masking = masking_report.read(
            artifact_utils.get_single_instance(input_dict[MASKING_REPORT]).uri)
        splits = artifact_utils.decode_split_names(examples.split_names)
        columns = statistics.summarize(
            statistics.load(statistics_artifact, splits), masking["columns"],
            exec_properties[MAX_CATEGORIES], exec_properties[TOP_VALUES],
            exec_properties[MIN_VALUE_COUNT])
        kinds = {kind: [n for n, c in columns.items() if c.get("association") == kind]
                 for kind in ("numeric", "categorical")}
        inventory = {"columns": columns, "freshness": freshness(examples, columns),
                     "lineage": lineage(examples, statistics_artifact, masking)}
        output_dir = artifact_utils.get_single_uri(output_dict[INVENTORY])

        def write_inventory(associations):
            write({**inventory, "associations": {**associations,
                                                 "excluded": _excluded(columns)}}, output_dir)

        with self._make_beam_pipeline() as pipeline:
            records = [pipeline | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
                os.path.join(artifact_utils.get_split_uri([examples], split), "*"),
                coder=beam.coders.BytesCoder()) for split in splits]
            (records
             | "AllSplits" >> beam.Flatten()
             | "Parse" >> beam.Map(association.parse, kinds["numeric"] + kinds["categorical"])
             | "Associations" >> association.Associations(kinds["numeric"],
                                                          kinds["categorical"])
             | "Write" >> beam.Map(write_inventory))
