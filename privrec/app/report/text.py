"""Values as words and numbers for the page's tables: never raw JSON, never a bare key."""
import datetime
import html
import math
from typing import Any

DASH = "–"


def words(key: str) -> str:
    """'rows_out_per_split' -> 'rows out per split'."""
    return str(key).replace("_", " ")


def number(value: Any, digits: int = 4) -> str:
    """A readable number: integers as they are, floats to `digits` significant digits."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if isinstance(value, float):
        if math.isinf(value):
            return "∞ (no DP)" if value > 0 else "−∞"
        if math.isnan(value):
            return "not a number"
        if value == int(value) and abs(value) < 1e9:
            return number(int(value))
        return f"{value:.{digits}g}"
    return str(value)


def share(value: Any) -> str:
    return DASH if value is None else f"{100 * float(value):.1f} %"


def epsilon(value: Any) -> str:
    return DASH if value is None else ("∞ (no DP)" if math.isinf(value) else f"{value:.3g}")


def utc(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


def when(iso: str) -> str:
    """'2024-01-07T23:00:00+00:00' -> '2024-01-07 23:00 UTC'."""
    try:
        return datetime.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return str(iso)


def value(item: Any) -> str:
    """Any JSON value as plain text: lists joined with commas, mappings as 'key value; …'."""
    if isinstance(item, dict):
        return "; ".join(f"{words(k)} {value(v)}" for k, v in item.items()) or DASH
    if isinstance(item, (list, tuple)):
        return ", ".join(value(v) for v in item) or DASH
    return number(item)


def escape(item: Any) -> str:
    return html.escape(item if isinstance(item, str) else value(item))
