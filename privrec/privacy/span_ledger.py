"""The privacy ledger of incremental (span) runs: which DP runs trained on which data span, and
each span's cumulative user-level ε, checked against the budget before training.

Every Trainer run of the pipeline extends the ledger of the pipeline's latest Model artifact with
its own run (spans, users, users per step, steps, noise multiplier, δ, and the popularity prior's
noise when the run released one) and records the result in its Model artifact:
`privacy_ledger.json` beside training.json (not pushed) and the MLMD custom property
`privacy_ledger` (components/span_trainer/executor.py). The newest Model's ledger thus holds
every DP run the pipeline has trained, blessed or not (an unblessed model and its metrics
still exist in the pipeline root, so its privacy cost is counted). Outside span mode each run
reads all of interactions/ again and trains on it as span 0: the runs of one pipeline root
compose (a second run on the same users is a second release about them). So a pipeline root is
one privacy budget; a new root starts an empty ledger, which is only right for data about other
users.

What ε of a span means, and what is assumed:
- The privacy unit is the user (privrec/privacy/accounting.py): ε of a span bounds what all models trained
  so far reveal about any one user whose data is in that span.
- spans_share_users=True (default, conservative): a shop's customers come back, so any user may
  be in every span. A run that trained on spans 2-3 still touched the span-1 users who were
  active again later, so it composes for span 1 too: ε(span) = RDP composition over *all* runs of
  the ledger. Parallel composition over spans is not claimed.
- spans_share_users=False: only when each span holds users no other span holds (e.g. one span
  per disjoint cohort). Then parallel composition holds: ε(span) composes only the runs that
  trained on that span.
- All runs compose at the current run's δ (1/users unless TrainerConfig.delta is set); each
  run's own mechanism (q, σ, steps) is replayed by the RDP accountant, as accounting.account does.
"""
import json
import os
from typing import Dict, List, Optional, Sequence

import tensorflow as tf

from privrec.privacy import accounting

LEDGER_FILE = "privacy_ledger.json"
LEDGER_PROPERTY = "privacy_ledger"   # MLMD custom property of the Model artifact (JSON)
CONFIG_KEY = "span_ledger"           # the Trainer's custom_config entry (SpanTrainer)


class PrivacyBudgetError(RuntimeError):
    """Raised before training when a span's cumulative ε would exceed the budget."""


def composed_runs(runs: Sequence[Dict], span: int, share_users: bool) -> List[Dict]:
    """The runs whose privacy cost counts for a span (see the module docstring)."""
    return [run for run in runs if share_users or span in run["spans"]]


def span_epsilons(runs: Sequence[Dict], spans: Sequence[int], delta: float,
                  share_users: bool) -> Dict[int, float]:
    """Cumulative user-level ε of each span over the runs (see the module docstring)."""
    return {span: accounting.composed_epsilon(composed_runs(runs, span, share_users), delta)
            for span in spans}


def check_budget(config: Dict, num_users: int, users_per_step: float, steps: int,
                 noise_multiplier: float, delta: float,
                 popularity_noise: Optional[float] = None,
                 user_count_noise: Optional[float] = None) -> Optional[Dict]:
    """The ledger with this run added (its spans, the earlier runs and the budget come from
    config[CONFIG_KEY]); raises PrivacyBudgetError, naming the span, if any span it trains on
    would exceed the budget. Returns None without a ledger (a Trainer other than SpanTrainer,
    e.g. audit/retrain.py's models, which are never pushed)."""
    settings = config.get(CONFIG_KEY)
    if not settings:
        return None
    this_run = {"spans": sorted(settings["spans"]),
                **accounting.run_record(num_users, users_per_step, steps, noise_multiplier,
                                     popularity_noise, user_count_noise),
                "delta": delta}
    runs: List[Dict] = list(settings["earlier_runs"]) + [this_run]
    share_users, budget = settings["spans_share_users"], settings["epsilon_budget"]
    all_spans = sorted({span for run in runs for span in run["spans"]})
    epsilons = span_epsilons(runs, all_spans, delta, share_users)
    worst = max(this_run["spans"], key=lambda span: epsilons[span])
    if epsilons[worst] > budget:
        composed = composed_runs(runs, worst, share_users)
        if settings.get("span_mode", True):
            data = f"span {worst}"
            fixes = (("Spans are assumed to share users (SpanConfig.spans_share_users), so "
                      "every earlier run of this pipeline counts. " if share_users else "")
                     + "Raise TrainerConfig.noise_multiplier, train fewer steps or fewer spans, "
                     "or stop training on this data")
        else:
            data = (f"the data (span {worst}: outside span mode every run reads all of "
                    "interactions/)")
            fixes = ("Raise TrainerConfig.noise_multiplier, train fewer steps, or stop training "
                     "on this data (a new pipeline root starts a new ledger: right only for data "
                     "about other users)")
        raise PrivacyBudgetError(
            f"privacy budget: training on {data} would bring its cumulative user-level "
            f"ε to {epsilons[worst]:.3f} (δ = {delta:.2e}, {len(composed)} DP runs composed, "
            f"{len(composed) - 1} earlier), over PipelineConfig.epsilon_budget = {budget}. "
            f"Nothing was trained. {fixes}.")
    return {"runs": runs, "epsilon_by_span": {str(s): e for s, e in epsilons.items()},
            "delta": delta, "spans_share_users": share_users, "epsilon_budget": budget}


def write(model_artifact_dir: str, ledger: Dict) -> None:
    with tf.io.gfile.GFile(os.path.join(model_artifact_dir, LEDGER_FILE), "w") as f:
        json.dump(ledger, f, indent=2)


def read(model_artifact_dir: str) -> Dict:
    with tf.io.gfile.GFile(os.path.join(model_artifact_dir, LEDGER_FILE)) as f:
        return json.load(f)


def of_model_artifact(model) -> Optional[Dict]:
    """The ledger in a Model artifact's MLMD properties (a tfx Artifact); None if it has none
    (trained by a Trainer without a ledger)."""
    if not model.has_custom_property(LEDGER_PROPERTY):
        return None
    return json.loads(model.get_string_custom_property(LEDGER_PROPERTY))
