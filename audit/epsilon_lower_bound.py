"""An empirical ε lower bound from a distinguishing attack, as DP auditing does it.

Release a mechanism many times on neighbouring data sets D (scores_out) and D + one user
(scores_in); an attacker guesses "in" when a score is above a threshold. (ε, δ)-DP implies
TPR ≤ e^ε·FPR + δ for every threshold, so ε ≥ ln((TPR − δ) / FPR). With Clopper–Pearson
intervals (a lower bound on TPR, an upper bound on FPR) that bound holds with the stated
confidence. The threshold is chosen on one half of the trials and the bound measured on the
other, so choosing it costs no confidence. A correct mechanism gives a bound at or below its
claimed ε; one whose noise is predictable (a seed in the code) gives a bound near
ln(trials).
"""
import math
from typing import Sequence, Tuple

import numpy as np
from scipy import stats


def clopper_pearson(successes: int, trials: int, alpha: float) -> Tuple[float, float]:
    """Exact two-sided (1 − alpha) interval of a binomial proportion."""
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = 1.0 if successes == trials else stats.beta.ppf(1 - alpha / 2, successes + 1,
                                                          trials - successes)
    return float(low), float(high)


def _bound_at(threshold: float, scores_in: np.ndarray, scores_out: np.ndarray, delta: float,
              alpha: float) -> float:
    """ε lower bound of the test "score > threshold" (and of its complement)."""
    tp, fp = int(np.sum(scores_in > threshold)), int(np.sum(scores_out > threshold))
    tpr_low, tpr_high = clopper_pearson(tp, len(scores_in), alpha)
    fpr_low, fpr_high = clopper_pearson(fp, len(scores_out), alpha)
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    # The complement test: "score <= threshold" says "out".
    if (1 - fpr_high) - delta > 0 and (1 - tpr_low) > 0:
        bounds.append(math.log(((1 - fpr_high) - delta) / (1 - tpr_low)))
    return max(bounds)


def epsilon_lower_bound(scores_in: Sequence[float], scores_out: Sequence[float], delta: float,
                        alpha: float = 0.05) -> float:
    """ε lower bound with confidence 1 − alpha from releases on D + one user (scores_in) and
    on D (scores_out): the best threshold on the first half of each, measured on the second."""
    scores_in, scores_out = np.asarray(scores_in, float), np.asarray(scores_out, float)
    half_in, half_out = len(scores_in) // 2, len(scores_out) // 2
    if min(half_in, half_out) < 10:
        raise ValueError("an audit needs at least 20 releases on each data set")
    choose_in, measure_in = scores_in[:half_in], scores_in[half_in:]
    choose_out, measure_out = scores_out[:half_out], scores_out[half_out:]
    candidates = np.unique(np.concatenate([choose_in, choose_out]))
    best = max(candidates, key=lambda t: _bound_at(t, choose_in, choose_out, delta, alpha))
    return _bound_at(best, measure_in, measure_out, delta, alpha)
