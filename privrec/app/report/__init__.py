"""The run report: one self-contained HTML page per work dir (`<work-dir>/report/index.html`).

facts.py and metrics.py read what a run left (MLMD, the JSON files the components write, the
Evaluator's output); text.py turns values into words and numbers; charts.py draws inline SVG;
sections/ builds one part of the page each; page.py lays them out with inline CSS; build.py puts
it together, for `privrec run`, `privrec report`, `privrec audit` and `privrec privacy-report`.
"""
