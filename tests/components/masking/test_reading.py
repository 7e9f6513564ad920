"""reading.py: the interaction CSVs through the real DirectRunner, each row checked against the
masking policy; errors name file, line and column."""
import os

import apache_beam as beam
import pytest
from apache_beam.testing import util as beam_testing

from components.masking import malformed, reading
from components.masking import policy as policy_lib
from privrec.data import generator, schema

TINY = policy_lib.load(policy_lib.TINY_POLICY)


def _write(directory, name, rows):
    path = os.path.join(directory, name)
    generator.write_csv(path, rows, schema.INTERACTION_COLUMNS)
    return path


@pytest.fixture(scope="module")
def rows():
    return generator.generate(generator.SIZES["tiny"])["interactions"][:5]


def test_located_rows_of_every_file_come_out_of_beam_by_file_and_row_number(tmp_path, rows):
    files = [_write(tmp_path, "a.csv", rows[:3]), _write(tmp_path, "b.csv", rows[3:])]
    assert reading.input_files(str(tmp_path), "*.csv") == files
    with beam.Pipeline() as pipeline:
        located = pipeline | reading.ReadLocatedRows(files, TINY)
        beam_testing.assert_that(located | beam.Map(lambda kv: (kv[0], kv[1][schema.ITEM_ID])),
                                 beam_testing.equal_to(
                                     [((0, i), r[schema.ITEM_ID]) for i, r in enumerate(rows[:3])]
                                     + [((1, 0), rows[3][schema.ITEM_ID]),
                                        ((1, 1), rows[4][schema.ITEM_ID])]))


def test_a_bad_row_stops_the_pipeline_naming_file_line_and_column(tmp_path, rows):
    bad = [dict(r) for r in rows]
    bad[3][schema.ITEM_ID] = " "
    path = _write(tmp_path, "bad.csv", bad)
    with pytest.raises(malformed.InputDataError, match=rf"{path}, line 5, column 'item_id'"):
        with beam.Pipeline() as pipeline:
            _ = pipeline | reading.ReadLocatedRows([path], TINY)


def test_headers_are_checked_before_beam(tmp_path, rows):
    assert not reading.check_header(_write(tmp_path, "only_header.csv", []), TINY)
    assert reading.check_header(_write(tmp_path, "rows.csv", rows), TINY)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(malformed.InputDataError, match="the file is empty; expected a header"):
        reading.check_header(str(empty), TINY)
    with pytest.raises(malformed.InputDataError, match="no input files match"):
        reading.input_files(str(tmp_path), "*.tsv")


def test_row_problem_names_the_fix_without_echoing_the_value():
    gender = TINY.columns["gender"]
    assert reading.row_problem(gender, gender.params["domain"][0]) is None
    problem = reading.row_problem(gender, "Secret-Value")
    assert "domain" in problem and "Secret-Value" not in problem
    timestamp = TINY.columns[schema.TIMESTAMP]
    assert reading.row_problem(timestamp, "-5") is None
    assert "not an integer Unix time" in reading.row_problem(timestamp, "2024-01-01")
