"""The public time window a data set covers: where the train/eval split is cut.

The masking ExampleGen splits train/eval at shares of this window (PipelineConfig.
eval_fraction_buckets). It must be a public fact about the data (the period an export covers,
the dates a published data set was collected), never a statistic of the rows: a cut-off taken
from the data's own first and last timestamps moves every user's split when one user with an
extreme timestamp is added or removed, which breaks the neighbouring-data-set assumption of
user-level DP.

A data set declares it in `time_window.json` next to its interaction CSVs (the generator and the
MovieLens converter write one; in span mode each span folder has its own), or the run is given
one (PipelineConfig.time_window, `privrec run --time-window START,END`).
"""
import calendar
import json
import os
import re
from typing import NamedTuple, Optional

FILE_NAME = "time_window.json"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class TimeWindow(NamedTuple):
    """[start, end) in Unix seconds."""
    start: int
    end: int


def checked(start, end, where: str) -> TimeWindow:
    """A TimeWindow from two Unix second values, or a ValueError naming where they came from."""
    try:
        window = TimeWindow(int(start), int(end))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: a time window is two integer Unix times in seconds, "
                         f"[start, end), got {start!r}, {end!r}") from None
    if not window.start < window.end:
        raise ValueError(f"{where}: the time window's start {window.start} is not before its "
                         f"end {window.end}")
    return window


def _seconds(text: str, where: str) -> int:
    text = text.strip()
    date = _DATE.fullmatch(text)
    if date:
        return calendar.timegm((int(date[1]), int(date[2]), int(date[3]), 0, 0, 0))
    if text.lstrip("-").isdigit():
        return int(text)
    raise ValueError(f"{where}: {text!r} is neither a date (YYYY-MM-DD, UTC midnight) nor an "
                     "integer Unix time in seconds")


def parse(text: str, where: str = "--time-window") -> TimeWindow:
    """'START,END' (dates YYYY-MM-DD at UTC midnight, or Unix seconds) -> TimeWindow; END is
    exclusive: '2024-01-01,2024-04-01' is January to March."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{where}: expected START,END (e.g. 2024-01-01,2024-04-01 or "
                         f"1704067200,1711929600), got {text!r}")
    return checked(_seconds(parts[0], where), _seconds(parts[1], where), where)


def write(folder: str, window: TimeWindow) -> str:
    """Declares the window of the interaction CSVs in folder; returns the file's path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, FILE_NAME)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"start": window.start, "end": window.end,
                   "about": "public [start, end) in Unix seconds of the interactions in this "
                            "folder; the train/eval split is cut at shares of it"}, f, indent=2)
    return path


def read(folder: str) -> Optional[TimeWindow]:
    """The window declared in folder (local or remote), or None when it declares none."""
    from privrec.data import sources
    path = os.path.join(folder, FILE_NAME)
    if not sources.exists(path):
        return None
    with sources.open_text(path) as f:
        try:
            declared = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error}); expected "
                             '{"start": <Unix s>, "end": <Unix s>}') from None
    if not isinstance(declared, dict) or not {"start", "end"} <= set(declared):
        raise ValueError(f'{path}: expected {{"start": <Unix s>, "end": <Unix s>}}')
    return checked(declared["start"], declared["end"], path)
