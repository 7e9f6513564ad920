"""report_writer.WriteReport: the figures PCollection becomes masking_report.json and .html,
written by Beam's file sink with the bytes report.write gives, and the report comes out once
both files exist."""
import os

import apache_beam as beam
from apache_beam.testing import util as beam_testing
from tfx.proto import example_gen_pb2

from components.masking import cleaning, graph, report, report_writer
from components.masking import policy as policy_lib

TINY = policy_lib.load(policy_lib.TINY_POLICY)
SPLITS = [example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=9),
          example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]
FIGURES = {graph.STATS: {"rows_in": 10, "gender:non_empty": 10},
           graph.SPLIT_ROWS: {"train": 9, "eval": 1}, graph.K_ANONYMITY: None,
           graph.CLEANING_COUNTS: {cleaning.ROWS_READ: 11, cleaning.DUPLICATE_RULE: 1},
           graph.OUTSIDE_ROWS: {"after": 1}}


def test_report_files_are_written_by_beam_byte_for_byte_and_the_report_passed_on(tmp_path):
    directory = str(tmp_path / "report")
    expected = report_writer.build(FIGURES, TINY, "fp", SPLITS, (0, 100))
    assert expected["rows_out"] == 10 and expected["cleaning"]["rows_removed"] == 1
    assert expected["time_split"]["rows_after_window"] == 1

    def files_exist_when_passed_on(reports):
        assert reports == [expected]
        assert sorted(os.listdir(directory)) == [report.HTML_FILE, report.JSON_FILE]

    with beam.Pipeline() as pipeline:
        written = (pipeline | beam.Create([FIGURES])
                   | report_writer.WriteReport(directory, TINY, "fp", SPLITS, (0, 100)))
        beam_testing.assert_that(written, files_exist_when_passed_on)
    reference = str(tmp_path / "reference")
    report.write(expected, reference)
    for name in (report.JSON_FILE, report.HTML_FILE):
        with open(os.path.join(directory, name), "rb") as a, \
                open(os.path.join(reference, name), "rb") as b:
            assert a.read() == b.read(), name
    assert report.read(directory) == expected
    assert sorted(os.listdir(directory)) == [report.HTML_FILE, report.JSON_FILE]  # no temp dirs
