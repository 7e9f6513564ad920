"""User-level accounting of DP runs (TF-Privacy's RDP accountant) and the choice of δ.

Every number in the report is computed from the run's own parameters (users, sampling rate,
steps, noise multiplier, δ) with TF-Privacy's accountant; none is typed in.
"""
import math
from typing import Dict, Optional, Sequence

import dp_accounting
from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib

from privrec.privacy.report import PrivacyReport


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


def dp_sgd_event(q: float, noise_multiplier: float, steps: int,
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


def epsilon_before_training(popularity_noise: Optional[float],
                            user_count_noise: Optional[float], delta: float) -> float:
    """ε of what a run releases before its first DP-SGD step (the DP count of users, the
    popularity prior): no target ε at or below it can be reached; 0 when it releases neither."""
    events = [dp_accounting.GaussianDpEvent(sigma) for sigma in (user_count_noise,
                                                                 popularity_noise)
              if sigma is not None]
    if not events:
        return 0.0
    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.ComposedDpEvent(events))
    return float(accountant.get_epsilon(delta))


def composed_epsilon(runs: Sequence[Dict], delta: float) -> float:
    """ε of the runs one after the other (RDP composition; a user may be in all of them)."""
    if any(run["noise_multiplier"] <= 0 for run in runs):
        return math.inf
    accountant = dp_accounting.rdp.RdpAccountant()
    for run in runs:
        q = min(1.0, run["users_per_step"] / run["num_users"])
        accountant.compose(dp_sgd_event(q, run["noise_multiplier"], run["steps"],
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
