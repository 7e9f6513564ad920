"""ExampleGen executor that masks while it ingests: raw PII never reaches the pipeline root.

One Beam pipeline reads the interaction CSVs (reading.py: every file's columns and every row
checked against the masking policy; errors name file, line and column, never a raw PII value),
cleans, masks, suppresses small equivalence classes' quasi-identifier cells and splits by a
public time window (graph.py, time_split.py), writes the examples (examples_writer.py) and the
masking report from the graph's figures (report_writer.py), then fails the run if cleaning or
suppression exceeds the policy's budget (budgets.py). Settings are resolved and checked before
Beam starts (settings.py); the artifacts carry the input files' lineage (lineage.py).

Neighbouring data sets: adding or removing one user must not change any other user's training
rows (the assumption user-level DP-SGD's guarantee rests on). So every rule that decides a
row's fate is per row or per user with fixed settings: the split cuts a *public* time window,
never the data's own first and last timestamps; k-anonymity suppresses cells, never rows; the
cleaning rules are per row or per user. Two figures still depend on other users, and neither
reaches a training feature: the suppressed quasi-identifier values (Transform drops them) and
`cold_start_item`, which is 0 on every training row by construction and only labels eval rows.
"""
from typing import Any, Dict, List

import apache_beam as beam
from absl import logging
from tfx.components.example_gen import base_example_gen_executor
from tfx.types import Artifact, artifact_utils, standard_component_specs

from components.masking import budgets, examples_writer, graph, lineage
from components.masking import report_writer, settings as settings_lib

REPORT_KEY = "masking_report"
KEY_FINGERPRINT = lineage.KEY_FINGERPRINT
user_column = settings_lib.user_column  # audit/membership_inference.py imports it from here


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Masking ExampleGen executor (see module docstring)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("Do builds the whole graph: splits are by time, and the "
                                  "masking report is an output of the same pipeline")

    def GenerateExamplesByBeam(self, pipeline, exec_properties):
        raise NotImplementedError("Do builds the whole graph (graph.MaskAndSplit)")

    def Do(self, input_dict: Dict[str, List[Artifact]], output_dict: Dict[str, List[Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        run = settings_lib.resolve(exec_properties)
        logging.info("Masking %d file(s) under policy %s; pseudonym key fingerprint %s",
                     len(run.files), run.policy.version, run.key.fingerprint)
        properties = lineage.properties(run.policy, run.key.fingerprint, run.files)
        examples = output_dict[standard_component_specs.EXAMPLES_KEY]
        report_dir = artifact_utils.get_single_uri(output_dict[REPORT_KEY])
        shuffle = examples_writer.shuffles_spill(self._beam_pipeline_args)
        examples_writer.record_splits(examples, *settings_lib.io_configs(exec_properties))
        with self._make_beam_pipeline() as pipeline:
            masked = pipeline | "MaskAndSplit" >> graph.MaskAndSplit(
                run.policy, run.key, run.files, run.splits, run.window,
                settings_lib.user_column(run.policy), shuffle)
            _ = masked.examples | "WriteExamples" >> examples_writer.WriteExamples(
                examples, exec_properties, shuffle)
            _ = (masked.figures
                 | "WriteReport" >> report_writer.WriteReport(
                     report_dir, run.policy, run.key.fingerprint, run.splits, run.window)
                 | "CheckBudgets" >> budgets.CheckBudgets(report_dir))
        examples_writer.record_formats(examples, exec_properties, run.span, run.version)
        for artifact in examples + output_dict[REPORT_KEY]:
            for name, value in properties.items():
                artifact.set_string_custom_property(name, value)
