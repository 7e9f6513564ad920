"""Evaluation: Recall@K, NDCG@K, MRR and catalog coverage overall and per slice, the candidate
against the last blessed (baseline) model, and the Evaluator's verdict."""
import re
from typing import Dict, List, Optional

from privrec.app.report import charts, metrics as metrics_lib, page, text

CANDIDATE, BASELINE = "candidate", "baseline"
SHOWN = re.compile(r"^(recall_at_\d+|ndcg_at_\d+|mrr|catalog_coverage)$")


def label(metric: str) -> str:
    """'recall_at_10' -> 'Recall@10', 'mrr' -> 'MRR'."""
    family, _, k = metric.partition("_at_")
    names = {"recall": "Recall", "ndcg": "NDCG", "mrr": "MRR",
             "catalog_coverage": "catalog coverage"}
    return names.get(family, text.words(family)) + (f"@{k}" if k else "")


def shown(models: Dict[str, Dict[str, float]]) -> List[str]:
    names = {m for values in models.values() for m in values if SHOWN.match(m)}
    return sorted(names, key=lambda m: (m.partition("_at_")[0],
                                        int(m.partition("_at_")[2] or 0)))


def _table(models: Dict[str, Dict[str, float]]) -> str:
    baseline = models.get(BASELINE)
    headers = ["metric", "candidate"] + (["baseline", "change"] if baseline else [])
    rows = []
    for metric in shown(models):
        value = models.get(CANDIDATE, {}).get(metric)
        row = [label(metric), value]
        if baseline:
            before = baseline.get(metric)
            row += [before, text.DASH if None in (value, before) else f"{value - before:+.4f}"]
        rows.append(row)
    return page.table(headers, rows, numeric=tuple(range(1, len(headers))))


def section(per_slice: Dict, failures: List, blessed: Optional[bool]) -> page.Section:
    """`failures`: pipeline/run_summary.py's GateFailure per failed threshold."""
    verdict = ("blessed: every threshold met" if blessed else
               "not blessed" if blessed is not None else "no verdict (the Evaluator did not run)")
    parts = [f"<p class='{'verdict-ok' if blessed else 'verdict-bad'}'>{verdict}</p>",
             page.note("On the eval split (users' newest interactions), ranking each true item "
                       "over the whole catalog. These figures are exact statistics of eval "
                       "users: ε does not cover them, they stay in this report and the internal "
                       "model card.")]
    if failures:
        parts.append(page.table(("failed", "model", "value", "threshold"),
                                [(f.metric + (" (change vs. baseline)" if f.is_diff else ""),
                                  f.model, f.value, f.threshold) for f in failures],
                                numeric=(2,)))
    overall = per_slice.get(metrics_lib.OVERALL, {})
    for name, models in per_slice.items():
        examples = models.get(CANDIDATE, {}).get("example_count")
        parts += [page.heading(f"{name} ({text.number(examples)} examples)"
                               if examples is not None else name), _table(models)]
    names, figures = shown(overall), []
    if names:
        series = {model: [overall[model].get(m, 0.0) for m in names]
                  for model in (CANDIDATE, BASELINE) if model in overall}
        caption = ("The candidate against the last blessed model, overall." if BASELINE in
                   overall else "Overall; no baseline yet: the first blessed model is judged "
                                "on the absolute floor only.")
        figures.append(charts.bars(
            "Candidate vs baseline", [label(m) for m in names], series, "eval split",
            caption, size=(5.0, 3.0), rotate=True))
    slices = [s for s in per_slice if s != metrics_lib.OVERALL]
    if slices and names:
        figures.append(charts.bars(
            "Candidate per slice", [label(m) for m in names],
            {s: [per_slice[s].get(CANDIDATE, {}).get(m, 0.0) for m in names]
             for s in [metrics_lib.OVERALL] + slices}, "eval split",
            "The candidate overall and on each slice.", size=(5.0, 3.0), rotate=True))
    parts.append(page.charts(*figures))
    return page.Section("evaluation", "Evaluation", parts)
