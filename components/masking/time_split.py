"""The train/eval split by time: consecutive shares of a *public* time window (the data set's
declared period, privrec/data/time_window.py), never the data's own first and last timestamps,
so one user's rows cannot move another user's split. A row outside the window goes to the first
or the last split (a rule of the row alone) and is counted in the report.
"""
from typing import Dict, List, Mapping, Sequence

from components.masking import malformed
from privrec.data import time_window

TIME_WINDOWS = "time_windows"   # custom_config: {span: [start, end)}
ANY_SPAN = "*"
TIME_SPLIT = "time_split"       # the masking report's section
Window = time_window.TimeWindow


def split_window(windows: Mapping[str, Sequence[int]], span: int, input_base: str) -> Window:
    """The public window the split of `span` cuts: the span's declared window, or the one given
    for every span ("*"); refuses a run without one, naming where to declare it."""
    window = windows.get(str(span), windows.get(ANY_SPAN))
    if window is None:
        where = f"the span-{span} folder" if span else input_base
        raise malformed.InputDataError(
            f"{input_base}{f' (span {span})' if span else ''}: no public time window is declared "
            "for the interactions. The train/eval split is cut at shares of the period the data "
            "covers, never at its own first and last timestamps (one user could move every "
            "user's split). Declare it: `privrec run --time-window START,END` "
            "(PipelineConfig.time_window), or a time_window.json file "
            f'({{"start": <Unix s>, "end": <Unix s>}}) in {where} (privrec/data/time_window.py)')
    return time_window.checked(*window, f"custom_config {TIME_WINDOWS}[{span}]")


def upper_shares_of(splits) -> List[float]:
    """Each output split's upper bound as a share of the window (hash_buckets are shares)."""
    total = sum(s.hash_buckets for s in splits)
    return [sum(s.hash_buckets for s in splits[:i + 1]) / total for i in range(len(splits))]


def split_index(timestamp: int, window, upper_shares) -> int:
    """The output split of a released timestamp: a timestamp before the window goes to the
    first split, one at or after its end to the last."""
    start, end = window
    share = (timestamp - start) / max(end - start, 1)
    n = len(upper_shares)
    return next(i for i, upper in enumerate(upper_shares) if share < upper or i == n - 1)


def cut_offs(window, upper_shares) -> List[int]:
    """The Unix times where one split ends and the next begins (for the report)."""
    start, end = window
    return [int(start + upper * (end - start)) for upper in upper_shares[:-1]]


def window_side(timestamp: int, window) -> str:
    """'before', 'after' or 'inside' the window [start, end)."""
    start, end = window
    return "before" if timestamp < start else "after" if timestamp >= end else "inside"


def figures(window, splits, outside_rows: Mapping[str, int]) -> Dict:
    """The masking report's `time_split` section: the public window, the cut-off times and the
    rows outside the window (each went to the first or the last split, never dropped)."""
    upper_shares = upper_shares_of(splits)
    return {"window": list(window),
            "cut_offs": {f"{a.name}|{b.name}": t for a, b, t in zip(
                splits, splits[1:], cut_offs(window, upper_shares))},
            "rows_before_window": outside_rows.get("before", 0),
            "rows_after_window": outside_rows.get("after", 0),
            "outside_rows": f"before the window: in split {splits[0].name}; at or after its "
                            f"end: in split {splits[-1].name}"}
