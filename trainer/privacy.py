"""User-level DP-SGD with TF-Privacy: the per-step mechanism and the run's privacy accounting.

Every number in the report is computed from the run's own parameters (users, sampling rate,
steps, noise multiplier, δ) with TF-Privacy's accountant; none is typed in.
"""
import dataclasses
import functools
import math
from typing import Dict, List, Optional, Sequence, Tuple

import dp_accounting
import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib
from tensorflow_privacy.privacy.dp_query import gaussian_query

from privrec import randomness
from trainer.catalog import FIRST_ITEM_INDEX


class EntropyGaussianSumQuery(gaussian_query.GaussianSumQuery):
    """TF-Privacy's GaussianSumQuery with its noise drawn from `generator`, a
    tf.random.Generator from OS entropy (privrec.randomness). The parent draws through
    tf.random_normal_initializer, which follows tf.random.set_seed: one seeded line anywhere in
    the process and anyone with the code could replay the noise and subtract it."""

    def __init__(self, l2_norm_clip: float, stddev: float, generator: tf.random.Generator):
        super().__init__(l2_norm_clip, stddev)
        self._generator = generator

    def get_noised_result(self, sample_state, global_state):
        def add_noise(v):
            noise = self._generator.normal(tf.shape(v), stddev=global_state.stddev)
            return v + tf.cast(noise, v.dtype)

        result = tf.nest.map_structure(add_noise, sample_state)
        event = dp_accounting.GaussianDpEvent(global_state.stddev / global_state.l2_norm_clip)
        return result, global_state, event


@dataclasses.dataclass(frozen=True)
class UserLevelDP:
    """One DP-SGD step's mechanism: clip each user's summed gradient to `l2_norm_clip`, add
    Gaussian noise of stddev noise_multiplier * l2_norm_clip to the sum (TF-Privacy's
    GaussianSumQuery), divide by the *expected* number of users per step (with Poisson
    sampling the actual count is itself private)."""
    l2_norm_clip: float
    noise_multiplier: float
    expected_users_per_step: float
    # The noise's source: OS entropy, made with the mechanism (under the training strategy's
    # scope when there is one, so each replica can draw from it).
    generator: tf.random.Generator = dataclasses.field(
        default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.generator is None:
            object.__setattr__(self, "generator", randomness.tf_generator(stream=1))

    def clip_weights(self, norms: tf.Tensor) -> tf.Tensor:
        """[users] per-user gradient norms -> each user's clipping factor 1 / max(1, norm / C)
        (TF-Privacy's vectorized optimizers' clipping: the global norm over all variables)."""
        return 1.0 / tf.maximum(norms / self.l2_norm_clip, 1.0)

    def clip_and_sum(self, per_user_gradients: List[tf.Tensor]) -> List[tf.Tensor]:
        """[users, ...] gradients per variable -> Σ_users clipped gradient per variable,
        written over the user axis at once (the query's own `preprocess_record`,
        tf.clip_by_global_norm, has no vectorized form and would loop). Float32 whatever the
        layers' mixed-precision policy."""
        squared = [tf.reduce_sum(tf.square(tf.reshape(g, [tf.shape(g)[0], -1])), axis=1)
                   for g in per_user_gradients]
        weights = self.clip_weights(tf.sqrt(tf.add_n(squared)))
        return [tf.tensordot(weights, g, axes=1) for g in per_user_gradients]

    def noised_mean(self, summed: List[tf.Tensor]) -> List[tf.Tensor]:
        """Σ_users clipped gradient per variable -> the privatised mean gradient: Gaussian
        noise of stddev σC (TF-Privacy's GaussianSumQuery), over the expected users per step.

        Under a multi-replica strategy (MirroredStrategy: each replica holds a slice of the
        users) each replica clips its own users, the first replica alone adds the noise (once,
        stddev σC, as on one device; noise σC/√replicas on each would need independent random
        streams, and the replicas' are identical: noise on both gave 2σC in tests/test_devices.py)
        and the sums are all-reduced, so every replica returns the same mean of
        all users' clipped gradients plus σC noise over the expected users. Apply it with
        `skip_gradients_aggregation=True`: it is already the global gradient. On one device the
        all-reduce is the identity."""
        query = EntropyGaussianSumQuery(
            self.l2_norm_clip, self.noise_multiplier * self.l2_norm_clip, self.generator)
        replica = tf.distribute.get_replica_context()
        noised = tf.cond(
            tf.equal(replica.replica_id_in_sync_group, 0),
            lambda: query.get_noised_result(summed, query.initial_global_state())[0],
            lambda: summed)
        noised = replica.all_reduce(tf.distribute.ReduceOp.SUM, noised)
        return [g / self.expected_users_per_step for g in noised]

    def noisy_mean(self, per_user_gradients: List[tf.Tensor]) -> List[tf.Tensor]:
        """[users, ...] gradients per variable -> the privatised mean gradient per variable."""
        return self.noised_mean(self.clip_and_sum(per_user_gradients))

    def noise_norm_over_clip(self, variables: Sequence[tf.Variable]) -> float:
        """`noise_norm_over_clip` of a step that trains `variables`."""
        return noise_norm_over_clip(self.noise_multiplier, self.expected_users_per_step,
                                    sum(int(tf.size(v)) for v in variables))


def noise_norm_over_clip(noise_multiplier: float, expected_users_per_step: float,
                         num_parameters: int) -> float:
    """The norm of the noise in one step's privatised mean gradient (UserLevelDP.noised_mean),
    in units of the clip norm: σ·√D / expected users per step (a D-dimensional Gaussian of
    stddev s has norm ≈ s·√D). The largest signal a step can carry, every user's clipped
    gradient pointing the same way, has norm 1 in these units; far above 1, each step's
    direction is mostly noise, and only many steps average it out."""
    return noise_multiplier * math.sqrt(num_parameters) / expected_users_per_step


@functools.lru_cache(maxsize=None)
def _release_noise_source() -> tf.random.Generator:
    """One OS-entropy generator per process for the releases made outside training steps
    (the popularity prior, the user count)."""
    return randomness.tf_generator(stream=2)


def popularity_prior(users: np.ndarray, items: np.ndarray, num_indices: int,
                     noise_multiplier: float) -> np.ndarray:
    """[num_indices] log(1 + DP item count): the popularity prior the model adds to its logits
    (TrainerConfig.popularity_prior_noise), from interactions: each one's user (any key) and
    item index.

    A Gaussian mechanism over users (TF-Privacy's GaussianSumQuery, clip 1): each user's
    vector of item counts is scaled to L2 norm 1, so adding or removing one user moves the sum
    by at most 1, and each item's sum gets noise of stddev `noise_multiplier`. Its privacy cost
    composes with DP-SGD's (`account`: dp_accounting.GaussianDpEvent). Negative noisy counts
    are floored at 0; log(1 + ·) is post-processing. Indices below the first item (padding,
    unknown) get 0."""
    if not noise_multiplier > 0:
        raise ValueError("popularity_prior_noise must be > 0 (the prior is computed from "
                         f"private interactions), got {noise_multiplier}")
    users, items = np.asarray(users).reshape(-1), np.asarray(items, np.int64).reshape(-1)
    if len(users) != len(items):
        raise ValueError(f"popularity_prior needs one user per interaction: {len(users)} users "
                         f"for {len(items)} items")
    # One pass over the (user, item) pairs, O(interactions): each pair's count, each user's
    # norm, then the counts scaled by their user's 1 / max(norm, 1) summed per item.
    user = np.unique(users, return_inverse=True)[1].reshape(-1).astype(np.int64)
    pairs, counts = np.unique(user * num_indices + items, return_counts=True)
    pair_user, pair_item = np.divmod(pairs, num_indices)
    norms = np.sqrt(np.bincount(pair_user, weights=np.square(counts, dtype=np.float64)))
    total = np.bincount(pair_item, weights=counts / np.maximum(norms, 1.0)[pair_user],
                        minlength=num_indices)
    query = EntropyGaussianSumQuery(1.0, noise_multiplier, _release_noise_source())
    noised = query.get_noised_result(tf.constant(total, tf.float32),
                                     query.initial_global_state())[0].numpy()
    prior = np.log1p(np.maximum(noised, 0.0)).astype(np.float32)
    prior[:FIRST_ITEM_INDEX] = 0.0
    return prior


def dp_user_count(num_users: int, noise_multiplier: float) -> int:
    """The number of users as training may use and release it: a Gaussian mechanism (one user
    moves the count by 1; noise of stddev `noise_multiplier`, from OS entropy), rounded, at
    least 1. The sampling rate, the steps, δ and every released figure come from this count,
    never from the exact one; its ε composes with DP-SGD's (`_dp_sgd_event`)."""
    if not noise_multiplier > 0:
        raise ValueError("TrainerConfig.user_count_noise must be > 0 (the number of users is "
                         f"a private statistic), got {noise_multiplier}")
    noise = float(_release_noise_source().normal([], stddev=noise_multiplier))
    return max(1, int(round(num_users + noise)))


def default_delta(num_users: int) -> float:
    """δ when none is configured: 1/(N·ln N) or 1e-6, whichever is smaller, rounded down to a
    power of ten (so δ does not spell out N). δ = 1/N would let a mechanism publish one random
    user's whole data."""
    n = max(num_users, 3)
    delta = min(1.0 / (n * math.log(n)), 1e-6)
    return 10.0 ** math.floor(math.log10(delta))


def checked_delta(delta: Optional[float], num_users: int) -> float:
    """`delta`, or the default; refuses δ ≥ 1/N (N: the DP count of users)."""
    if delta is None:
        return default_delta(num_users)
    if not 0 < delta < 1.0 / num_users:
        raise ValueError(
            f"TrainerConfig.delta = {delta:g} is not below 1/N = {1.0 / num_users:.2e} (N ≈ "
            f"{num_users} users): a δ that large allows releasing one random user's whole "
            "data. Set a smaller delta, or leave it unset for 1/(N·ln N) or 1e-6, whichever "
            "is smaller")
    return float(delta)


EPSILON_COVERS = (
    "ε covers the trained weights and everything computed from them alone (served answers, "
    "the released model card's DP figures): the DP count of users, the DP-SGD steps and the "
    "popularity prior when one was released, composed by the accountant. It does not cover "
    "the Evaluator's metrics or the internal model card under the pipeline root (exact "
    "statistics of the eval users, never pushed).")


def make_optimizer(config: Dict) -> tf.keras.optimizers.Optimizer:
    """Adam on already privatised gradients (UserLevelDP.noised_mean); post-processing of a DP
    gradient stays DP, so the optimizer itself needs no privacy."""
    return tf.keras.optimizers.Adam(learning_rate=config["learning_rate"])


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


def _dp_sgd_event(q: float, noise_multiplier: float, steps: int,
                  popularity_noise: Optional[float] = None,
                  user_count_noise: Optional[float] = None) -> dp_accounting.DpEvent:
    """`steps` Poisson-sampled Gaussian steps, composed with the popularity prior's Gaussian
    mechanism when the run released one and with the DP count of users when it made one."""
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(noise_multiplier)),
        steps)
    others = [dp_accounting.GaussianDpEvent(sigma) for sigma in (user_count_noise,
                                                                 popularity_noise)
              if sigma is not None]
    return dp_accounting.ComposedDpEvent(others + [event]) if others else event


def noise_for_target_epsilon(target_epsilon: float, num_users: int, users_per_step: float,
                             steps: int, delta: Optional[float] = None,
                             popularity_noise: Optional[float] = None,
                             user_count_noise: Optional[float] = None) -> float:
    """The smallest noise multiplier whose user-level ε (same accountant and assumption as
    `account`, with the popularity prior's mechanism when `popularity_noise` is set) is at most
    `target_epsilon` (dp_accounting.calibrate_dp_mechanism, bisection)."""
    if not target_epsilon > 0:
        raise ValueError(f"target_epsilon must be > 0, got {target_epsilon}")
    delta = checked_delta(delta, num_users)
    q = min(1.0, users_per_step / num_users)
    try:
        return float(dp_accounting.calibrate_dp_mechanism(
            dp_accounting.rdp.RdpAccountant,
            lambda sigma: _dp_sgd_event(q, sigma, steps, popularity_noise, user_count_noise),
            target_epsilon, delta,
            bracket_interval=dp_accounting.ExplicitBracketInterval(1e-2, 1e3), tol=1e-3))
    except (dp_accounting.mechanism_calibration.NoBracketIntervalFoundError,
            ValueError) as error:  # brentq: the interval holds no solution
        raise ValueError(f"no noise multiplier in [0.01, 1000] reaches ε = {target_epsilon} at "
                         f"δ = {delta:.2e} in {steps} steps"
                         + (f" with the popularity prior (σ {popularity_noise}: raise "
                            "TrainerConfig.popularity_prior_noise or turn the prior off), "
                            if popularity_noise is not None else "; ")
                         + "raise the target or train fewer steps") from error


def run_record(num_users: int, users_per_step: float, steps: int, noise_multiplier: float,
               popularity_noise_multiplier: Optional[float] = None,
               user_count_noise_multiplier: Optional[float] = None) -> Dict:
    """What `composed_epsilon` needs of one run (PrivacyReport.runs, the span ledger); the
    popularity prior's and the user count's noise only when the run released them."""
    run = {"num_users": num_users, "users_per_step": users_per_step, "steps": steps,
           "noise_multiplier": noise_multiplier}
    if popularity_noise_multiplier is not None:
        run["popularity_noise_multiplier"] = popularity_noise_multiplier
    if user_count_noise_multiplier is not None:
        run["user_count_noise_multiplier"] = user_count_noise_multiplier
    return run


def composed_epsilon(runs: Sequence[Dict], delta: float) -> float:
    """ε of the runs one after the other (RDP composition; a user may be in all of them)."""
    if any(run["noise_multiplier"] <= 0 for run in runs):
        return math.inf
    accountant = dp_accounting.rdp.RdpAccountant()
    for run in runs:
        q = min(1.0, run["users_per_step"] / run["num_users"])
        accountant.compose(_dp_sgd_event(q, run["noise_multiplier"], run["steps"],
                                         run.get("popularity_noise_multiplier"),
                                         run.get("user_count_noise_multiplier")))
    return float(accountant.get_epsilon(delta))


def account(num_users: int, users_per_step: float, steps: int, noise_multiplier: float,
            l2_norm_clip: float, max_examples_per_user: int, num_examples: int,
            delta: Optional[float] = None, target_epsilon: Optional[float] = None,
            earlier_runs: Sequence[Dict] = (),
            popularity_noise_multiplier: Optional[float] = None,
            user_count_noise_multiplier: Optional[float] = None) -> PrivacyReport:
    """User-level ε of `steps` DP-SGD steps sampling users at q = users_per_step / num_users
    (RDP accountant), and of the popularity prior when this run released one
    (`popularity_prior`, noise `popularity_noise_multiplier`), composed with `earlier_runs`
    (the `runs` of the report of the model this one continues), and of the DP count of users
    when `num_users` is one (`dp_user_count`, noise `user_count_noise_multiplier`). δ defaults
    to `default_delta`."""
    delta = checked_delta(delta, num_users)
    q = min(1.0, users_per_step / num_users)
    this_run = run_record(num_users, users_per_step, steps, noise_multiplier,
                          popularity_noise_multiplier, user_count_noise_multiplier)
    runs = tuple(dict(run) for run in earlier_runs) + (this_run,)
    epsilon = composed_epsilon(runs, delta)
    epsilon_this_run = composed_epsilon([this_run], delta)
    epochs = steps * q
    prior_note = "" if popularity_noise_multiplier is None else (
        f"ε = {epsilon:.3g} composes the DP-SGD steps below with the popularity prior's "
        f"Gaussian mechanism (noise multiplier {popularity_noise_multiplier:.3g}, each user's "
        "item counts scaled to norm 1; RDP accountant). TF-Privacy's statement covers the "
        "DP-SGD steps alone.\n")
    if user_count_noise_multiplier is not None:
        prior_note += (f"The number of users ({num_users}) is itself a DP count (Gaussian, "
                       f"noise {user_count_noise_multiplier:.3g}), composed into ε.\n")
    # Records are users: each sampled user's clipped gradient is one record (no microbatches
    # of several users), so TF-Privacy's statement is about users with used_microbatching off.
    statement = compute_dp_sgd_privacy_lib.compute_dp_sgd_privacy_statement(
        number_of_examples=num_users, batch_size=max(1, round(q * num_users)),
        num_epochs=epochs, noise_multiplier=noise_multiplier, delta=delta,
        used_microbatching=False, max_examples_per_user=1)
    return PrivacyReport(
        epsilon=float(epsilon), delta=float(delta), noise_multiplier=noise_multiplier,
        l2_norm_clip=l2_norm_clip, num_users=num_users, users_per_step=users_per_step,
        max_examples_per_user=max_examples_per_user, num_examples=num_examples, steps=steps,
        epochs=epochs, accountant="RDP (dp_accounting.rdp.RdpAccountant via TF-Privacy)",
        sampling_assumption=(f"Poisson sampling of users at q={q:.5f}, as training does "
                             "(trainer/user_sampling.py); TF-Privacy's statement also gives "
                             "the bound for shuffled fixed-size batches"),
        privacy_unit=(f"user: all of a user's data (at most {max_examples_per_user} examples "
                      "per step, their summed gradient clipped)"),
        statement=(prior_note + "Records are users: TF-Privacy's 'examples' below are users, "
                   "each one record (so 'at most 1 example per user').\n" + statement),
        example_level=(f"Any single example belongs to one user, so it is covered by the same "
                       f"(ε = {epsilon:.3g}, δ = {delta:.2e}); example-level accounting would "
                       "only give a smaller number for a weaker unit."),
        target_epsilon=target_epsilon, epsilon_this_run=epsilon_this_run, runs=runs,
        popularity_noise_multiplier=popularity_noise_multiplier,
        user_count_noise_multiplier=user_count_noise_multiplier)
