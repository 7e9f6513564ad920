"""The privacy report of a run: what ε covers, and what of it may travel with the model."""
import dataclasses
from typing import Dict, Optional, Tuple

from privrec import randomness

EPSILON_COVERS = (
    "ε covers the trained weights and everything computed from them alone (served answers, "
    "the released model card's DP figures): the DP count of users, the DP-SGD steps and the "
    "popularity prior when one was released, composed by the accountant. It does not cover "
    "the Evaluator's metrics or the internal model card under the pipeline root (exact "
    "statistics of the eval users, never pushed).")


@dataclasses.dataclass(frozen=True)
class PrivacyReport:
    """The privacy unit is the user: ε bounds what the model reveals about any one user's
    whole data (all their examples), not just about one interaction."""
    epsilon: float
    delta: float
    noise_multiplier: float
    l2_norm_clip: float
    num_users: int
    users_per_step: float           # expected; each user is Poisson-sampled at q = this / users
    max_examples_per_user: int      # examples of a sampled user in one step (at most)
    num_examples: int
    steps: int
    epochs: float                   # steps * q: how often each user was sampled on average
    accountant: str
    sampling_assumption: str
    privacy_unit: str
    statement: str
    example_level: str              # the footnote: what this means for a single example
    target_epsilon: Optional[float] = None  # set when the noise multiplier was calibrated to it
    # Warm-started training composes with the runs it continues: `epsilon` covers all of
    # `runs` (oldest first, this one last); `epsilon_this_run` only this run.
    epsilon_this_run: Optional[float] = None
    runs: Tuple[Dict, ...] = ()
    # Set when this run released a popularity prior (`popularity_prior`): in `epsilon`.
    popularity_noise_multiplier: Optional[float] = None
    # What training also read from the prior's released counts (post-processing, no ε of its
    # own): {"rare_item_exponent": α, "item_id_min_count": c, "items_with_own_id_rows": n}.
    prior_uses: Dict = dataclasses.field(default_factory=dict)
    # Where the noise and the user sampling came from (privrec.randomness): OS entropy, or
    # "reproducible: NOT PRIVATE" under the test-only seed.
    randomness: str = dataclasses.field(default_factory=randomness.status)
    user_count_noise_multiplier: Optional[float] = None  # set: num_users is a DP count
    epsilon_covers: str = EPSILON_COVERS

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)

    def released(self) -> Dict:
        """What may travel with the model (assets.extra/privacy.json): DP outputs and public
        settings only, no exact count of the private data (num_examples stays internal)."""
        return {k: v for k, v in self.to_dict().items() if k != "num_examples"}


def prior_use_text(uses: Optional[Dict]) -> str:
    """What training read from the DP popularity prior's counts (PrivacyReport.prior_uses),
    e.g. "examples drawn rare items first (α 0.5); own item-id rows for 512 items (DP count
    >= 20)"; "" for none."""
    uses = uses or {}
    parts = []
    if uses.get("rare_item_exponent"):
        parts.append(f"examples drawn rare items first (α {uses['rare_item_exponent']:g})")
    if uses.get("items_with_own_id_rows") is not None:
        parts.append(f"own item-id rows for {uses['items_with_own_id_rows']} items (DP count "
                     f">= {uses['item_id_min_count']:g}), the rest share one")
    return "; ".join(parts)
