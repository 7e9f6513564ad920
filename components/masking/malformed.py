"""Malformed input files -> an error naming the file, line and column, and what to do.

Covers bytes that are not UTF-8, quoting that breaks the CSV structure (a quote never closed, a
row with too many or too few fields) and the csv module's own errors. The messages never hold a
value of a row (only a byte's hex code, line and column numbers and column names).
"""
import contextlib
import csv
from typing import Dict, Optional, Sequence, Tuple

from privrec.data import sources

ENCODING = sources.ENCODING


class InputDataError(ValueError):
    """Raised for input that cannot be ingested; the message says where and what to do."""


def _header(path: str):
    with sources.open_binary(path) as f:
        first = f.readline().decode(ENCODING, errors="replace")
    return next(csv.reader([first]), [])


def _column(path: str, line_prefix: str) -> str:
    """The header name of the column a line's text ends in (the line up to a problem)."""
    index = len(next(csv.reader([line_prefix]), [""])) - 1
    header = _header(path)
    return f"'{header[index]}'" if 0 <= index < len(header) else f"number {index + 1}"


def not_utf8(path: str) -> Optional[str]:
    """Where the first byte that is not UTF-8 is, and what to do (None: the file is UTF-8)."""
    with sources.open_binary(path) as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode(ENCODING)
            except UnicodeDecodeError as error:
                prefix = line[:error.start].decode(ENCODING, errors="replace")
                return (f"{path}, line {number}, column {_column(path, prefix)} (byte "
                        f"{error.start + 1} of the line, 0x{line[error.start]:02x}): not UTF-8; "
                        "save or convert the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) "
                        "and run again")
    return None


def _broken_record(path: str) -> Tuple[int, int]:
    """(first, last) line of the record the csv module stops at."""
    with sources.open_text(path) as f:
        reader = csv.reader(f)
        first = 1
        try:
            for _ in reader:
                first = reader.line_num + 1
        except csv.Error:
            return first, reader.line_num
    return first, first


def _line(path: str, number: int) -> str:
    with sources.open_text(path) as f:
        for i, text in enumerate(f, 1):
            if i == number:
                return text
    return ""


@contextlib.contextmanager
def named_errors(path: str):
    """Turns UnicodeDecodeError and csv.Error raised while reading path into InputDataError."""
    try:
        yield
    except UnicodeDecodeError:
        raise InputDataError(not_utf8(path) or f"{path}: not UTF-8") from None
    except csv.Error as error:
        first, last = _broken_record(path)
        column = _column(path, _line(path, first))
        raise InputDataError(
            f"{path}, lines {first}-{last}, column {column}: {error}: the quoted field that "
            f"starts on line {first} is never closed; fix the quoting of that line") from None


def check_fields(path: str, first_line: int, last_line: int, row: Dict,
                 fieldnames: Sequence[str], text_columns: Sequence[str]) -> None:
    """A csv.DictReader row that spans lines first..last: refuses broken quoting."""
    extra, missing = row.get(None), [k for k, v in row.items() if k is not None and v is None]
    broken = [k for k, v in row.items()
              if k is not None and k not in text_columns and v and "\n" in v]
    if not (extra or missing or broken):
        return
    where = f"line {first_line}" if first_line == last_line else f"lines {first_line}-{last_line}"
    if first_line != last_line:  # a quote opened and ran over line ends
        opened = next((k for k, v in row.items() if k is not None and v and "\n" in v),
                      (missing or [fieldnames[-1]])[0])
        raise InputDataError(
            f"{path}, {where}, column '{opened}': a quoted field runs over "
            f"{last_line - first_line + 1} lines, so a quote is probably never closed; fix the "
            f"quoting of line {first_line}")
    found = len(fieldnames) + len(extra or ()) - len(missing)
    after = (f"extra field(s) after column '{fieldnames[-1]}'" if extra
             else f"no value for column(s) {', '.join(missing)}")
    raise InputDataError(
        f"{path}, {where}: {found} fields where the header has {len(fieldnames)} ({after}); "
        "check the commas and quoting of that row")
