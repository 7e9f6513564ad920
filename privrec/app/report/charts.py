"""Charts as inline SVG (matplotlib, no fonts or links outside the page)."""
import datetime
import html
import io
import itertools
import re
from typing import Dict, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
from matplotlib import pyplot  # noqa: E402  (after choosing the non-interactive backend)

CHART_CLASS = "chart"
MARK = "mark-"  # the SVG id prefix of the data's marks (bars, lines, steps), not axes or text
_marks = itertools.count()
COLORS = ("#2f6f9f", "#e07b39", "#3a9a5b", "#8e5ea2", "#c0392b", "#7f8c8d")
_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "privrec", "font.size": 9,
          "axes.spines.top": False, "axes.spines.right": False,
          "axes.prop_cycle": matplotlib.cycler(color=COLORS)}


def reset_marks() -> None:
    """Numbers the marks from 0 again: a page built twice from the same facts is the same."""
    global _marks
    _marks = itertools.count()


def _mark(*artists):
    """Tags what shows data, so a reader (or a test) can tell drawn data from empty axes."""
    for artist in artists:
        for part in (artist if isinstance(artist, (list, tuple)) or hasattr(artist, "patches")
                     else [artist]):
            part.set_gid(f"{MARK}{next(_marks)}")


def _figure(size=(5.2, 3.0)):
    with matplotlib.rc_context(_STYLE):
        return pyplot.subplots(figsize=size)


def svg(figure, caption: str) -> str:
    """The figure as an <svg> element in a <figure>, without namespace URLs or metadata."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        figure.tight_layout()
        figure.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None,
                                                        "Format": None, "Type": None})
    pyplot.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return (f"<figure class='{CHART_CLASS}'>{text}<figcaption>{html.escape(caption)}"
            "</figcaption></figure>")


def bars(title: str, labels: Sequence[str], series: Dict[str, Sequence[float]], ylabel: str,
         caption: str, size=(5.2, 3.0), rotate: bool = False,
         limit: Optional[Tuple[float, str]] = None) -> str:
    """Grouped bars: one group per label, one bar per series; `limit`: a dashed horizontal
    line (value, label), e.g. a budget."""
    figure, axes = _figure(size)
    if limit is not None and limit[0] is not None:
        axes.axhline(limit[0], linestyle="--", color="#b42318", linewidth=1, label=limit[1])
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        _mark(axes.bar([j + i * width for j in range(len(labels))], values, width,
                       label=name, color=COLORS[i % len(COLORS)]))
    axes.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], list(labels),
                    rotation=35 if rotate else 0, ha="right" if rotate else "center")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if len(series) > 1 or limit is not None:
        axes.legend(fontsize=8)
    return svg(figure, caption)


def lines(title: str, series: Dict[str, Tuple[Sequence[float], Sequence[float]]], xlabel: str,
          ylabel: str, caption: str, diagonal: bool = False, xlog: bool = False,
          xticks: Optional[Tuple[Sequence[float], Sequence[str]]] = None, markers: bool = False,
          size=(5.2, 3.4)) -> str:
    """Lines of (xs, ys) per series; `diagonal`: the chance line of a ROC curve."""
    figure, axes = _figure(size)
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="#9aa5b1", linewidth=1, label="chance")
    for i, (name, (xs, ys)) in enumerate(series.items()):
        _mark(axes.plot(xs, ys, marker="o" if markers else None, label=name,
                        color=COLORS[i % len(COLORS)]))
    if xlog:
        axes.set_xscale("log")
    if xticks:
        axes.set_xticks(list(xticks[0]), list(xticks[1]))
        axes.minorticks_off()
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize=8)
    return svg(figure, caption)


def distribution(name: str, splits: Dict[str, Dict], caption: str,
                 dates: bool = False) -> str:
    """One inventory column per split: top values as bars, or the TFDV histogram as steps
    (`dates`: values are Unix seconds, labelled as dates)."""
    figure, axes = _figure((3.4, 2.2))
    if dates:
        axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda x, _: datetime.datetime.fromtimestamp(x, datetime.timezone.utc).strftime(
                "%Y-%m-%d")))
        axes.tick_params(axis="x", labelrotation=30)
    # One value axis shared by every split: each split's top values are ordered by its own
    # counts, so bars are placed by value, not by rank.
    values = list(dict.fromkeys(v for figures in splits.values()
                                for v, _ in figures.get("top_values", [])))
    for i, (split, figures) in enumerate(splits.items()):
        color = COLORS[i % len(COLORS)]
        if "top_values" in figures:
            counts = dict(figures["top_values"])
            total = sum(counts.values()) + figures.get("other_count", 0)
            width = 0.8 / len(splits)
            _mark(axes.bar([j + i * width for j in range(len(values))],
                           [counts.get(v, 0) / (total or 1) for v in values], width,
                           label=split, color=color))
            axes.set_xticks([j + 0.4 - width / 2 for j in range(len(values))],
                            [v or "(empty)" for v in values], rotation=30, ha="right")
            axes.set_ylabel("share of examples")
        else:
            buckets = figures["histogram"]
            total = sum(b[2] for b in buckets) or 1
            _mark(axes.stairs([b[2] / total for b in buckets],
                              [buckets[0][0]] + [b[1] for b in buckets], label=split,
                              color=color, linewidth=1.5))
            axes.set_ylabel("share of examples")
    axes.set_title(name)
    axes.legend(fontsize=7)
    return svg(figure, caption)
