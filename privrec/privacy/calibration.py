"""Noise calibration: the smallest noise multiplier that reaches a target user-level ε."""
from typing import Optional

import dp_accounting

from privrec.privacy.accounting import checked_delta, dp_sgd_event


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
            lambda sigma: dp_sgd_event(q, sigma, steps, popularity_noise, user_count_noise),
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
