"""The masking report from the Beam graph's figures: built in the pipeline, written as JSON and
HTML (report.py) by Beam's own file sink, one unsharded file each, and passed on once both are
written (budgets.py checks it then, so a run over budget has its report to point at).
"""
import os
from typing import Dict, Sequence

import apache_beam as beam

from components.masking import cleaning, graph, report, time_split
from components.masking import policy as policy_lib


def build(figures: Dict, policy: policy_lib.MaskingPolicy, key_fingerprint: str, splits,
          window) -> Dict:
    """graph.MaskAndSplit's figures -> the masking report (report.build + the time split)."""
    built = report.build(policy, key_fingerprint, figures[graph.STATS],
                         figures[graph.SPLIT_ROWS], figures[graph.K_ANONYMITY],
                         cleaning.summarize(figures[graph.CLEANING_COUNTS] or {},
                                            policy.cleaning))
    built[time_split.TIME_SPLIT] = time_split.figures(window, splits,
                                                      figures[graph.OUTSIDE_ROWS])
    return built


def _write_one(texts, path: str, label: str):
    return texts | label >> beam.io.WriteToText(path, num_shards=1, shard_name_template="",
                                                append_trailing_newlines=False)


class WriteReport(beam.PTransform):
    """PCollection[figures dict] -> PCollection[report dict], emitted after
    masking_report.json and masking_report.html are written under `directory`."""

    def __init__(self, directory: str, policy: policy_lib.MaskingPolicy, key_fingerprint: str,
                 splits: Sequence, window):
        super().__init__()
        self._directory, self._policy, self._fingerprint = directory, policy, key_fingerprint
        self._splits, self._window = list(splits), window

    def expand(self, figures):
        built = figures | "Build" >> beam.Map(build, self._policy, self._fingerprint,
                                              self._splits, self._window)
        written = [
            _write_one(built | "Json" >> beam.Map(report.to_json),
                       os.path.join(self._directory, report.JSON_FILE), "WriteJson"),
            _write_one(built | "Html" >> beam.Map(report.to_html),
                       os.path.join(self._directory, report.HTML_FILE), "WriteHtml")]
        return built | "Written" >> beam.Map(
            lambda built_report, *files: built_report,
            *[beam.pvalue.AsList(files) for files in written])
