"""`privrec audit` and `privrec privacy-report` results: membership inference (AUC and attacker
advantage per model, level and slice; ROC curves) and the privacy-utility curve."""
import math
from typing import Dict

from privrec.app.report import charts, page, text

ALL_USERS = "all users"


def _roc_chart(name: str, model: Dict, level: str) -> str:
    series = {f"{row['attack'].replace('_', ' ')} (AUC {row['auc']:.2f})":
              (row["roc"]["fpr"], row["roc"]["tpr"])
              for row in model[level] if row["slice"] == ALL_USERS and row.get("roc")}
    if not series:
        return ""
    return charts.lines(f"{name}, {level} level", series, "false positive rate",
                        "true positive rate", f"ROC of the attacks on the {name} model "
                        f"(ε {text.epsilon(model['epsilon'])}), all users: the closer to the "
                        "diagonal, the less the model gives away who trained it.",
                        diagonal=True, size=(4.2, 3.4))


def audit(report: Dict) -> page.Section:
    holdout = report["holdout"]
    rows = [(name, text.epsilon(model["epsilon"]), level, row["slice"],
             row["attack"].replace("_", " "), row["auc"], row["advantage"], row["members"],
             row["non_members"])
            for name, model in report["models"].items() for level in ("user", "example")
            for row in model[level]]
    parts = [page.note(f"TF-Privacy's membership inference attacks on the DP model and the same "
                       f"model trained without DP: {text.number(holdout['member_users'])} member "
                       f"users (trained on), {text.number(holdout['non_member_users'])} held-out "
                       "users (never seen). AUC 0.5 is a coin toss."),
             page.table(("model", "ε", "level", "slice", "attack", "AUC", "advantage",
                         "members", "non-members"), rows, numeric=(5, 6, 7, 8))]
    rocs = [_roc_chart(name, model, level) for name, model in report["models"].items()
            for level in ("user", "example")]
    parts.append(page.charts(*filter(None, rocs)) if any(rocs) else
                 page.note("no ROC points in this audit report (written by an older privrec)"))
    best = {name: max(r["auc"] for r in model["user"] if r["slice"] == ALL_USERS)
            for name, model in report["models"].items()}
    parts.append(page.charts(charts.bars(
        "Strongest user-level attack", list(best), {"AUC": list(best.values())}, "AUC",
        "The best attack's AUC on all users, per model (0.5: no better than guessing).")))
    return page.Section("audit", "Membership inference audit", parts)


def utility(report: Dict) -> page.Section:
    points = report["points"]
    finite = [p["epsilon"] for p in points if math.isfinite(p["epsilon"])]
    no_dp_x = max(finite) * 4 if finite else 1.0  # where "no DP" is drawn
    xs = [p["epsilon"] if math.isfinite(p["epsilon"]) else no_dp_x for p in points]
    ticks = [text.epsilon(p["epsilon"]) if math.isfinite(p["epsilon"]) else "no DP"
             for p in points]
    metrics = [m for m in ("recall_at_10", "recall_at_100", "ndcg_at_10", "mrr")
               if all(m in p for p in points)]
    names = {"recall_at_10": "Recall@10", "recall_at_100": "Recall@100",
             "ndcg_at_10": "NDCG@10", "mrr": "MRR"}
    rows = [(text.epsilon(p["target_epsilon"]), text.epsilon(p["epsilon"]),
             p["noise_multiplier"], p["steps"], p["eval_examples"], *(p[m] for m in metrics))
            for p in points]
    parts = [page.note(f"The same Trainer at each ε on the same data, every eval example ranked "
                       f"over the whole catalog. Privacy unit: {report.get('privacy_unit')}."),
             page.table(("target ε", "ε spent", "noise multiplier", "steps", "eval examples",
                         *(names[m] for m in metrics)), rows,
                        numeric=tuple(range(2, 5 + len(metrics)))),
             page.charts(charts.lines(
                 "Privacy-utility", {names[m]: (xs, [p[m] for p in points]) for m in metrics},
                 "user-level ε (log scale)", "eval split, whole catalog",
                 "Utility against ε: to the left more privacy, to the right more utility.",
                 xlog=True, xticks=(xs, ticks), markers=True))]
    return page.Section("utility", "Privacy-utility curve", parts)
