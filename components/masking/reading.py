"""Reading the interaction CSVs and validating every row against the masking policy.

Errors name the file, line and column and what to do, never a raw PII value (malformed.py for
files that are not UTF-8 or whose quoting breaks the CSV structure).
"""
import csv
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam

from components.masking import malformed
from components.masking import policy as policy_lib
from privrec.data import schema, sources

InputDataError = malformed.InputDataError
_YEAR = re.compile(r"\d{4}(-\d{1,2}-\d{1,2})?")


def input_files(input_base: str, pattern: str) -> List[str]:
    """The files under input_base matching pattern (local or remote), sorted; refuses none."""
    files = sources.match(input_base, pattern)
    if not files:
        raise InputDataError(f"no input files match {os.path.join(input_base, pattern)}")
    return files


def check_header(path: str, policy: policy_lib.MaskingPolicy) -> bool:
    """Fails fast, before Beam starts, when a file's columns are not the policy's; returns
    whether the file has a row after its header."""
    with sources.open_text(path) as f:
        with malformed.named_errors(path):
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise InputDataError(f"{path}: the file is empty; expected a header row with "
                                     f"columns {', '.join(policy.columns)}")
            policy.check_header(path, header)
            return next(reader, None) is not None


def row_problem(rule: policy_lib.ColumnRule, value: str) -> Optional[str]:
    """What is wrong with one value under its column rule (None if fine); never echoes PII."""
    method = rule.params.get("method")
    if method == "truncate_time" and not value.strip().lstrip("-").isdigit():
        return f"{value[:30]!r} is not an integer Unix time in seconds; fix the row or convert " \
               "the column"
    if method == "year_band" and value and not _YEAR.fullmatch(value.strip()):
        return "is not a date (YYYY-MM-DD) or a year; fix the row or leave it empty"
    if method in ("laplace", "gaussian", "bucket") and value.strip():
        try:
            float(value)
        except ValueError:
            return "is not a number; fix the row or leave it empty"
    if method == "randomized_response" and value not in [str(d) for d in rule.params["domain"]]:
        return (f"is not one of the policy's domain values {list(rule.params['domain'])}; fix "
                "the row or extend the domain in the masking policy")
    return None


def read_rows(path: str, policy: policy_lib.MaskingPolicy) -> Iterable[Dict[str, str]]:
    """Yields the rows of one file, each checked against the policy's column rules."""
    checked = [rule for rule in policy.columns.values() if rule.params]
    text_columns = [rule.column for rule in policy.with_role(policy_lib.FREE_TEXT)]
    with sources.open_text(path) as f, malformed.named_errors(path):
        reader = csv.DictReader(f)
        first_line = 2
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            malformed.check_fields(path, first_line, reader.line_num, row, reader.fieldnames,
                                   text_columns)
            first_line = reader.line_num + 1
            for rule in checked:
                problem = row_problem(rule, row[rule.column])
                if problem:
                    raise InputDataError(f"{where}, column '{rule.column}': {problem}")
            if not row[schema.ITEM_ID].strip():
                raise InputDataError(f"{where}, column '{schema.ITEM_ID}': empty; every "
                                     "interaction needs the item it was with")
            yield row


def read_located_rows(indexed_path: Tuple[int, str], policy: policy_lib.MaskingPolicy):
    """(file index, path) -> ((file index, row number), row) for each checked row."""
    index, path = indexed_path
    for number, row in enumerate(read_rows(path, policy)):
        yield (index, number), row


class ReadLocatedRows(beam.PTransform):
    """Pipeline -> PCollection[((file index, row number), row dict)] of the files' checked rows.
    Applying it again reads the files again: the rows are never held between passes."""

    def __init__(self, files: Sequence[str], policy: policy_lib.MaskingPolicy):
        super().__init__()
        self._files = list(files)
        self._policy = policy

    def expand(self, pipeline):
        return (pipeline | "Files" >> beam.Create(list(enumerate(self._files)))
                | "ReadAndValidate" >> beam.FlatMap(read_located_rows, self._policy))
