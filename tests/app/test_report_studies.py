"""The report's audit and privacy-utility sections (`privrec audit`, `privrec privacy-report`):
built by the same page builder from the JSON those commands write, here from TF-Privacy's real
attacks on synthetic scores and from real ranks turned into metrics."""
import json
import math
import re

import numpy as np

from audit import membership_inference, privacy_utility
from privrec.app.report import build, text
from trainer.retrieval_metrics import metrics_from_ranks


def _scores(rng, users, loss_mean, side):
    user = np.repeat([f"{side}-{i}".encode() for i in range(users)], 6)
    loss = rng.normal(loss_mean, 0.5, size=len(user))
    rank = np.maximum(1, np.round(np.exp(loss))).astype(np.float32)
    return {"user": user, "loss": loss, "rank": rank}


def _figures(html: str):
    return re.findall(r"<figure class='chart'>.*?</figure>", html, re.S)


def test_audit_section_draws_each_attacks_roc_curve(tmp_path):
    rng = np.random.default_rng(0)
    models = {"DP": (3.0, 4.2), "non-DP": (2.0, math.inf)}  # mean member loss, ε
    report = {"holdout": {"member_users": 120, "non_member_users": 120}, "models": {
        name: {"epsilon": epsilon, **membership_inference.attack(
            _scores(rng, 120, loss, "in"), _scores(rng, 120, 3.0, "out"))}
        for name, (loss, epsilon) in models.items()}}
    for model in report["models"].values():
        for row in model["user"] + model["example"]:
            fpr, tpr = row["roc"]["fpr"], row["roc"]["tpr"]
            assert fpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1 and fpr == sorted(fpr)
    (tmp_path / build.AUDIT_JSON).write_text(json.dumps(report))
    html = open(build.write(str(tmp_path)), encoding="utf-8").read()
    assert "id='audit'><h2>Membership inference audit</h2>" in html
    assert "id='data'" not in html  # no pipeline run in this work dir: no run sections
    rocs = [f for f in _figures(html) if "true positive rate" in f]
    assert len(rocs) == 4  # two models, user and example level
    assert all(f.count('id="mark-') >= 2 for f in rocs)  # both attacks drawn
    for name, model in report["models"].items():
        for row in model["user"]:
            assert (f"<td>{row['slice']}</td><td>{row['attack'].replace('_', ' ')}</td>"
                    f"<td class='num'>{text.number(row['auc'])}</td>") in html
    leaky = max(r["auc"] for r in report["models"]["non-DP"]["user"])
    assert leaky > 0.8 and f"AUC {leaky:.2f}" in html
    assert "http" not in html


def test_privacy_utility_section_draws_the_curve(tmp_path):
    rng = np.random.default_rng(1)
    points = []
    for epsilon, noise, scale in ((1.0, 2.1, 80), (8.0, 0.7, 30), (math.inf, 0.0, 10)):
        ranks = np.maximum(1, np.round(rng.exponential(scale, size=400)))
        points.append({"target_epsilon": epsilon, "epsilon": epsilon * 0.98 if
                       math.isfinite(epsilon) else epsilon, "noise_multiplier": noise,
                       "steps": 40, "delta": 1e-6, "eval_examples": len(ranks),
                       **metrics_from_ranks(ranks, privacy_utility.RECALL_KS,
                                            privacy_utility.NDCG_KS)})
    with open(tmp_path / build.UTILITY_JSON, "w") as f:
        json.dump({"points": points, "privacy_unit": "user"}, f)
    html = open(build.write(str(tmp_path)), encoding="utf-8").read()
    assert "id='utility'><h2>Privacy-utility curve</h2>" in html
    (curve,) = [f for f in _figures(html) if "Privacy-utility" in f]
    assert curve.count('id="mark-') == 4  # Recall@10, Recall@100, NDCG@10, MRR
    assert "no DP" in curve
    for point in points:
        assert f"<td class='num'>{text.number(point['recall_at_100'])}</td>" in html
    assert points[-1]["recall_at_10"] > points[0]["recall_at_10"]
