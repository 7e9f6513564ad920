"""The page: sections with a heading each, tables and charts, styled by inline CSS (no network,
no script)."""
import dataclasses
import html
from typing import Iterable, List, Sequence

from privrec.app.report.text import escape

CSS = """
:root{--ink:#1f2933;--muted:#61707d;--line:#d9e2ec;--accent:#2f6f9f;--bg:#f7f9fb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg)}
header{background:var(--ink);color:#fff;padding:20px 32px}
header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#cbd5e0}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px;
z-index:1}
nav a{color:var(--accent);text-decoration:none;margin-right:18px;font-weight:600}
main{max-width:1180px;margin:0 auto;padding:8px 24px 48px}
section.report-section{background:#fff;border:1px solid var(--line);border-radius:8px;
margin:20px 0;padding:8px 24px 20px}
h2{color:var(--accent);border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin:18px 0 6px;font-size:16px}
table{border-collapse:collapse;margin:6px 0 14px;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:4px 12px 4px 0;text-align:left;
vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
p.note{color:var(--muted);margin:4px 0 10px}
.verdict-ok{color:#1e7b34;font-weight:600}.verdict-bad{color:#b42318;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure.chart{margin:6px 0;padding:6px;border:1px solid var(--line);border-radius:6px;
background:#fff}
figure.chart svg{display:block;max-width:100%;height:auto}
figcaption{color:var(--muted);font-size:13px;width:0;min-width:100%}
td.num,th{white-space:nowrap}
pre{white-space:pre-wrap;font-size:13px;background:var(--bg);padding:8px;border-radius:6px}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.tile{flex:1 1 160px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;
background:var(--bg)}
.tile-label{color:var(--muted);font-size:13px}
.tile-value{font-size:26px;font-weight:700;color:var(--ink)}
.tile-detail{color:var(--muted);font-size:12px}
"""


@dataclasses.dataclass
class Section:
    """One part of the page: `key` is its anchor, `parts` its HTML blocks."""
    key: str
    title: str
    parts: List[str]


def table(headers: Sequence[str], rows: Iterable[Sequence], numeric: Sequence[int] = ()) -> str:
    """A table of plain values (text.escape); column indexes in `numeric` align right."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f"<td class='num'>{escape(c)}</td>" if i in numeric else f"<td>{escape(c)}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs(rows: Iterable[Sequence]) -> str:
    """A two-column table of (what, value)."""
    return table(("", ""), rows)


def note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def heading(text: str) -> str:
    return f"<h3>{html.escape(text)}</h3>"


def charts(*figures: str) -> str:
    return "<div class='charts'>" + "".join(figures) + "</div>"


def render(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    links = "".join(f"<a href='#{s.key}'>{html.escape(s.title)}</a>" for s in sections)
    body = "".join(f"<section class='report-section' id='{s.key}'><h2>{html.escape(s.title)}"
                   f"</h2>{''.join(s.parts)}</section>" for s in sections)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
            f"<nav>{links}</nav><main>{body}</main></body></html>")
