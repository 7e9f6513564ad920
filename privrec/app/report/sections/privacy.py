"""Training and privacy: ε and δ with the accountant, what ε covers, DP noise over the clip
norm, the training summary, and the privacy ledger of every DP run of the pipeline root with a
chart of ε spent per run."""
from typing import Dict, List, Optional

from privrec.app.report import charts, page, text
from privrec.privacy import accounting, report


def ledger_epsilons(ledger: Dict) -> List[Dict]:
    """Per ledger run: its own ε and the cumulative ε after it, at the ledger's δ (RDP)."""
    delta, runs = ledger["delta"], ledger["runs"]
    return [{"alone": accounting.composed_epsilon([run], delta),
             "cumulative": accounting.composed_epsilon(runs[:i + 1], delta)}
            for i, run in enumerate(runs)]


def _ledger(ledger: Dict):
    epsilons = ledger_epsilons(ledger)
    yield page.heading("Privacy ledger: every DP run of this pipeline root")
    yield page.table(
        ("run", "spans", "users (DP count)", "users per step", "steps", "noise multiplier",
         "ε of the run alone", "cumulative ε"),
        [(i + 1, ", ".join(map(str, run["spans"])), run["num_users"], run["users_per_step"],
          run["steps"], run["noise_multiplier"], text.epsilon(e["alone"]),
          text.epsilon(e["cumulative"])) for i, (run, e) in enumerate(zip(ledger["runs"],
                                                                          epsilons))],
        numeric=(0, 2, 3, 4, 5, 6, 7))
    yield page.pairs([
        ("ε per span", ", ".join(f"span {s}: {text.epsilon(e)}"
                                 for s, e in ledger["epsilon_by_span"].items())),
        ("budget", text.epsilon(ledger.get("epsilon_budget"))),
        ("δ", f"{ledger['delta']:.2g}"),
        ("spans share users", "yes: every run composes for every span" if
         ledger["spans_share_users"] else "no: a span composes only the runs trained on it")])
    labels = [f"run {i + 1}" for i in range(len(epsilons))]
    yield page.charts(charts.bars(
        "ε spent per run", labels, {"the run alone": [e["alone"] for e in epsilons],
                                    "cumulative": [e["cumulative"] for e in epsilons]},
        "user-level ε", f"Each DP run's ε and the pipeline root's cumulative ε after it "
        f"(budget {text.epsilon(ledger.get('epsilon_budget'))}).",
        limit=(ledger.get("epsilon_budget"), "budget")))


def section(privacy: Dict, training: Optional[Dict], ledger: Optional[Dict]) -> page.Section:
    parts = [page.pairs([
        ("ε (cumulative, this model)", text.epsilon(privacy["epsilon"])),
        ("ε of this run", text.epsilon(privacy.get("epsilon_this_run"))),
        ("δ", f"{privacy['delta']:.2g}"),
        ("privacy unit", privacy["privacy_unit"]),
        ("accountant", privacy["accountant"]),
        ("sampling", privacy.get("sampling_assumption")),
        ("noise multiplier", privacy["noise_multiplier"]),
        ("clip norm (L2)", privacy["l2_norm_clip"]),
        ("users (a DP count)", privacy["num_users"]),
        ("users per step", privacy["users_per_step"]),
        ("steps / epochs", f"{privacy['steps']} / {text.number(privacy['epochs'], 3)}"),
        ("target ε", "none: the configured noise multiplier" if privacy.get("target_epsilon")
         is None else text.epsilon(privacy["target_epsilon"])),
        ("popularity prior", "none" if privacy.get("popularity_noise_multiplier") is None
         else f"released at noise multiplier {privacy['popularity_noise_multiplier']:.3g}"),
        ("prior's counts also used for", report.prior_use_text(
            privacy.get("prior_uses")) or "nothing else"),
        ("randomness", privacy.get("randomness"))])]
    if privacy.get("epsilon_covers"):
        parts += [page.heading("What ε covers"), page.note(privacy["epsilon_covers"])]
    if training:
        noise = training.get("noise_norm_over_clip")
        parts += [page.heading("Training"), page.pairs([
            ("DP noise over clip", text.DASH if noise is None else
             f"{noise:.2f}× the clip norm per step" + (
                 " (above 1: each step is mostly noise; more users per step or more users "
                 "lower it)" if noise > 1 else "")),
            ("eval loss before → after", f"{text.number(training.get('eval_loss_before'))} → "
                                         f"{text.number(training.get('eval_loss_after'))}"),
            ("training examples / users", f"{text.number(training.get('training_examples'))} "
                                          f"/ {text.number(training.get('training_users'))}"),
            ("warm-started from", training.get("warm_started_from") or "no (fresh model)")])]
    if ledger and ledger.get("runs"):
        parts += list(_ledger(ledger))
    return page.Section("privacy", "Training and privacy", parts)
