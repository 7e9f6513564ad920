"""The inventory as an HTML page: summary, lineage, freshness, one row and plot per column,
association tables. Plots are inline SVG drawn by matplotlib from the inventory's own figures
(top values, TFDV histograms, or, for columns whose values are withheld, filled / empty /
missing shares), so the page shows nothing the JSON does not hold."""
import html
import io
from typing import Dict

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402  (after choosing the non-interactive backend)

PLOT_CLASS = "column-plot"


def _svg(figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "privrec"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot.close(figure)
    svg = buffer.getvalue()
    return f"<div class='{PLOT_CLASS}'>" + svg[svg.index("<svg"):] + "</div>"


def _kind(figures: Dict) -> str:
    if "top_values" in figures:
        return "top values"
    return "histogram" if figures.get("histogram") else "filled / empty / missing"


def plot(column: Dict) -> str:
    """A small SVG of one column's distribution, splits side by side or overlaid."""
    figure, axes = pyplot.subplots(figsize=(3.6, 1.8))
    splits = column["splits"]
    kind = _kind(next(iter(splits.values())))
    for i, (split, figures) in enumerate(splits.items()):
        if kind == "top values":
            labels = [v or "(empty)" for v, _ in figures["top_values"]] + ["other"]
            counts = [c for _, c in figures["top_values"]] + [figures["other_count"]]
            width = 0.8 / len(splits)
            axes.bar([j + i * width for j in range(len(labels))], counts, width, label=split)
            axes.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels,
                            rotation=45, ha="right")
        elif kind == "histogram":
            buckets = figures["histogram"]
            axes.stairs([b[2] for b in buckets], [buckets[0][0]] + [b[1] for b in buckets],
                        label=split)
        else:
            n = figures["examples"] or 1
            shares = (figures["completeness"], figures.get("empty", 0) / n,
                      figures["missing"] / n)
            left = 0.
            for share, label, color in zip(shares, ("filled", "empty", "missing"),
                                           ("C0", "C1", "C3")):
                axes.barh([split], [share], left=[left], color=color,
                          label=label if i == 0 else None)
                left += share
            axes.set_xlim(0, 1)
    axes.tick_params(labelsize=6)
    axes.legend(fontsize=5)
    axes.set_title(f"{kind} per split", fontsize=7)
    return _svg(figure)


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value) -> str:
    if value is None:
        return "–"
    return html.escape(f"{value:.4g}" if isinstance(value, float) else str(value))


def _split_figures(figures: Dict) -> str:
    keys = ("examples", "completeness", "cardinality", "uniqueness", "avg_length", "mean",
            "std_dev", "min", "median", "max")
    return "<br>".join(f"{k}: {_number(figures[k])}" for k in keys if k in figures)


def to_html(inventory: Dict) -> str:
    esc = lambda v: html.escape(str(v))  # noqa: E731
    lineage = inventory["lineage"]
    summary = [(esc(k), esc(v)) for k, v in lineage.items() if k != "source_files"]
    files = [(esc(f["name"]), esc(f["bytes"]), esc(f["sha256"]))
             for f in lineage["source_files"]]
    freshness = [(esc(s["span"]), esc(split), esc(t["first"]), esc(t["last"]))
                 for s in inventory["freshness"] for split, t in s["splits"].items()]
    rows = []
    for name, column in inventory["columns"].items():
        if not column["released"]:
            rows.append((esc(name), "–", esc(column["privacy_class"]),
                         f"not released ({esc(column['action'])})", "", ""))
            continue
        per_split = "".join(f"<b>{esc(s)}</b><br>{_split_figures(f)}<br>"
                            for s, f in column["splits"].items())
        rows.append((esc(name), esc(column["type"]), esc(column["privacy_class"]),
                     esc(column["values_withheld"] or "shown"), per_split, plot(column)))
    associations = inventory["associations"]
    numeric = [(esc(" × ".join(a["columns"])), esc(a["examples"]), _number(a["pearson"]),
                _number(a["spearman"])) for a in associations["numeric"]]
    categorical = [(esc(" × ".join(a["columns"])), esc(a["examples"]),
                    esc("×".join(map(str, a["categories"]))), _number(a["cramers_v"]))
                   for a in associations["categorical"]]
    excluded = [(esc(c), esc(reason)) for c, reason in associations["excluded"].items()]
    return "\n".join([
        "<!doctype html><meta charset='utf-8'><title>privrec data asset inventory</title>",
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 8px;"
        "vertical-align:top}table{border-collapse:collapse;margin-bottom:1em}</style>",
        "<h1>Data asset inventory (masked examples)</h1>",
        "<h2>Lineage</h2>", _table(("", ""), summary),
        "<h3>Source files</h3>", _table(("file", "bytes", "sha256"), files),
        "<h2>Freshness</h2>", _table(("span", "split", "first event (UTC)", "last event (UTC)"),
                                     freshness),
        "<h2>Columns</h2>",
        _table(("column", "type", "privacy class", "values", "figures per split (TFDV)",
                "distribution"), rows),
        "<h2>Association (all splits, Beam)</h2>",
        _table(("numeric pair", "examples", "Pearson r", "Spearman ρ"), numeric),
        _table(("categorical pair", "examples", "categories", "Cramér's V"), categorical),
        "<h3>Columns not associated</h3>", _table(("column", "why"), excluded),
    ])
