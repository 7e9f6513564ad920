"""The masking Executor.Do on a few hundred CSV rows: examples, report and lineage published
together from one Beam pipeline; over the cleaning budget it fails after the report is written."""
import json
import os

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.masking import budgets, executor, lineage, report
from components.masking import policy as policy_lib
from components.masking.component import MaskingExampleGen, MaskingReport
from privrec.data import generator, schema

# 200 rows of the tiny shop leave more small classes than the tiny policy's 5 % budget allows.
TINY = policy_lib.from_dict({**policy_lib.load(policy_lib.TINY_POLICY).source, "k_anonymity": {
    **policy_lib.load(policy_lib.TINY_POLICY).source["k_anonymity"],
    "max_suppressed_row_share": 0.5}})


def _do(tmp_path, rows):
    input_base = str(tmp_path / "interactions")
    generator.write_csv(os.path.join(input_base, "data.csv"), rows, schema.INTERACTION_COLUMNS)
    component = MaskingExampleGen(input_base, TINY, allow_dev_key=True,
                                  time_windows={"*": list(generator.TIME_WINDOW)})
    properties = {n: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
                  for n, v in component.exec_properties.items() if v is not None}
    examples, masking_report = standard_artifacts.Examples(), MaskingReport()
    examples.uri, masking_report.uri = str(tmp_path / "examples"), str(tmp_path / "report")
    try:
        executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples],
                                    executor.REPORT_KEY: [masking_report]}, properties)
    finally:
        written = report.read(masking_report.uri)
    return examples, masking_report, written


@pytest.fixture(scope="module")
def rows():
    return generator.generate(generator.SIZES["tiny"])["interactions"][:200]


def test_examples_report_and_lineage_come_from_one_run(tmp_path, rows):
    examples, masking_report, written = _do(tmp_path, rows)
    counts = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(os.path.join(
            artifact_utils.get_split_uri([examples], split), "*.gz"))
        counts[split] = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert counts == written["rows_out_per_split"] and written["rows_in"] == len(rows)
    assert written["time_split"]["window"] == list(generator.TIME_WINDOW)
    for artifact in (examples, masking_report):
        assert artifact.get_string_custom_property(lineage.POLICY_SHA256) == TINY.sha256
        [source] = json.loads(artifact.get_string_custom_property(lineage.SOURCE_FILES))
        assert source["name"] == "data.csv"
    assert examples.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"


def test_over_the_cleaning_budget_the_run_fails_after_writing_its_report(tmp_path, rows):
    with pytest.raises(budgets.CleaningBudgetError, match=r"cleaning: 20 of 220 rows"):
        _do(tmp_path, rows + rows[:20])  # 20 re-sent rows: 9 % > the policy's 5 %
    written = report.read(str(tmp_path / "report"))
    assert written["cleaning"]["budget_exceeded"] and written["cleaning"]["rows_removed"] == 20
