"""The privacy-utility curve (`privrec privacy-report`): Recall@K and NDCG@10 against ε.

One pipeline run on the data (masking at ingestion, Transform, DP Trainer, Evaluator), then the
same Trainer on the same Transform output at each requested ε (audit/retrain.py: the noise
multiplier calibrated by TF-Privacy's accountant to spend exactly that ε; `inf` = without DP).
Each model ranks the true item of every eval-split example over the whole catalog (its eval
signature) and trainer/retrieval_metrics.metrics_from_ranks turns the ranks into the same
metrics the Evaluator reports. Writes privacy_utility.json and privacy_utility.png.
"""
import json
import math
import os
from typing import Dict, List, Optional, Sequence

from tfx.types import artifact_utils

from audit import membership_inference, retrain
from audit.run import CARRIED_SETTINGS
from pipeline import configs, local_runner
from privrec.privacy import accounting
from trainer import export
from trainer.retrieval_metrics import metrics_from_ranks

JSON_FILE, PNG_FILE = "privacy_utility.json", "privacy_utility.png"
RECALL_KS, NDCG_KS = (10, 100), (10,)


def parse_epsilons(text: str) -> List[float]:
    """'0.5,1,inf' -> [0.5, 1.0, inf]; refuses non-positive or unreadable values."""
    values = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise ValueError(f"--epsilons: {part.strip()!r} is not a number or 'inf'") from None
        if not value > 0:
            raise ValueError(f"--epsilons: ε must be > 0 (or inf for no DP), not {value}")
        values.append(value)
    return sorted(set(values))


def check_reachable(epsilons: Sequence[float], trainer: configs.TrainerConfig) -> None:
    """Refuses, before any run, the ε points the releases made before training (the popularity
    prior, the DP user count) already spend (at δ 1e-6, the largest default δ, or the
    configured one: a lower bound of what the run would spend)."""
    floor = accounting.epsilon_before_training(trainer.popularity_prior_noise,
                                               trainer.user_count_noise, trainer.delta or 1e-6)
    unreachable = [epsilon for epsilon in epsilons if epsilon <= floor]
    if unreachable:
        prior = trainer.popularity_prior_noise
        raise ValueError(
            f"ε = {', '.join(f'{e:g}' for e in unreachable)} cannot be reached: before any "
            "training step " + (f"the popularity prior (σ_pop {prior:g}) and " if prior else "")
            + f"the DP count of users already spend ε {floor:.3g}. Drop those points from "
            "--epsilons" + (", or release the prior with more noise (--popularity-prior-noise "
                            "SIGMA; 0: no prior)" if prior else ""))


def curve(data_dir: str, work_dir: str, epsilons: Sequence[float], printer=print,
          settings: Optional[configs.PipelineConfig] = None) -> Dict:
    work_dir = os.path.abspath(work_dir)
    carried = {k: getattr(settings, k) for k in CARRIED_SETTINGS} if settings else {}
    check_reachable(epsilons, settings.trainer if settings else configs.TrainerConfig())
    config = configs.local_config(os.path.join(work_dir, "pipeline"), data_dir=data_dir,
                                  **carried)
    local_runner.run(config, printer)
    store = retrain.metadata_store(config)
    masked = retrain.inputs_of(store, "ModelEvaluation")["examples"]
    eval_examples = membership_inference.read_examples(
        artifact_utils.get_split_uri([masked], "eval") + "/*")
    points = []
    for epsilon in epsilons:
        label = "inf" if math.isinf(epsilon) else f"{epsilon:g}"
        printer(f"[privrec privacy-report] training at ε = {label}")
        overrides = retrain.NON_DP if math.isinf(epsilon) else {"target_epsilon": epsilon}
        model_dir = retrain.retrain(config, store, os.path.join(work_dir, f"epsilon_{label}"),
                                    **overrides)
        privacy = export.read_privacy_report(model_dir)
        ranks = membership_inference.score(model_dir, eval_examples, known_only=False)["rank"]
        points.append({"target_epsilon": epsilon, "epsilon": privacy["epsilon"],
                       "noise_multiplier": privacy["noise_multiplier"],
                       "steps": privacy["steps"], "delta": privacy["delta"],
                       "eval_examples": len(ranks),
                       **metrics_from_ranks(ranks, RECALL_KS, NDCG_KS)})
    report = {"data_dir": os.path.abspath(data_dir), "points": points,
              "privacy_unit": export.read_privacy_report(
                  retrain.pipeline_model_dir(store))["privacy_unit"]}
    os.makedirs(work_dir, exist_ok=True)
    with open(os.path.join(work_dir, JSON_FILE), "w") as f:
        json.dump(report, f, indent=2)
    plot(points, os.path.join(work_dir, PNG_FILE))
    return report


def plot(points: List[Dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    finite = [p["epsilon"] for p in points if math.isfinite(p["epsilon"])]
    no_dp_x = (max(finite) * 4) if finite else 1.0  # where "no DP" is drawn
    xs = [p["epsilon"] if math.isfinite(p["epsilon"]) else no_dp_x for p in points]
    figure, axis = plt.subplots(figsize=(6, 4))
    for metric in (f"recall_at_{RECALL_KS[-1]}", f"ndcg_at_{NDCG_KS[0]}"):
        axis.plot(xs, [p[metric] for p in points], marker="o", label=metric)
    axis.set_xscale("log")
    axis.set_xticks(xs)
    axis.set_xticklabels([f"{x:.2g}" if math.isfinite(p["epsilon"]) else "no DP"
                          for x, p in zip(xs, points)])
    deltas = sorted({f"{p['delta']:.0e}" for p in points if math.isfinite(p["epsilon"])})
    axis.set_xlabel(f"user-level ε (δ = {', '.join(deltas) or '-'}, RDP accountant)")
    axis.set_ylabel("eval split, whole catalog")
    axis.set_title("privrec privacy-utility")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def table(report: Dict) -> List[str]:
    lines = [f"{'target ε':>9}{'ε':>9}{'noise':>8}{'Recall@10':>11}{'Recall@100':>12}"
             f"{'NDCG@10':>9}{'MRR':>8}"]
    for p in report["points"]:
        lines.append(f"{p['target_epsilon']:>9.3g}{p['epsilon']:>9.3g}{p['noise_multiplier']:>8.3f}"
                     f"{p['recall_at_10']:>11.4f}{p['recall_at_100']:>12.4f}{p['ndcg_at_10']:>9.4f}"
                     f"{p['mrr']:>8.4f}")
    return lines
