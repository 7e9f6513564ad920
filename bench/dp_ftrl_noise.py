"""DP-FTRL (tree aggregation) against privrec's DP-SGD: the noise each needs for the same ε.

DP-FTRL (Kairouz et al. 2021, "Practical and Private (Deep) Learning without Sampling or
Shuffling"; TF-Privacy's tree_aggregation_query) needs no sampling assumption: each epoch is one
pass over the users in fixed batches, and the noise sits in a binary tree over the steps, so
the model carries the noise of a prefix sum (≤ log2(steps)+1 tree nodes) instead of one fresh
draw per step. DP-SGD (what privrec trains with) pays one draw per step, but Poisson sampling
amplifies its privacy. Which needs less noise at a given ε depends on the shape, so this bench
calibrates both with dp_accounting (RDP) for each (users per step, user-epochs, ε) and prints,
side by side:

* each mechanism's noise multiplier σ (node noise / clip norm for DP-FTRL, step noise / clip
  norm for DP-SGD);
* the noise on the run's summed gradient in clip norms (what moves the final model): DP-SGD
  √steps·σ; DP-FTRL, one tree per epoch, √(epochs · nodes in the last prefix)·σ;
* their ratio (>1: DP-FTRL noisier), and the ε at which DP-SGD of the same shape adds as much
  noise as DP-FTRL at the target ε;
* the summed gradient's signal-to-noise bound, user-gradients summed (steps × users per step)
  over that noise: the most signal the run can carry, every clipped gradient aligned. It
  compares shapes too: more user-epochs raise it for both mechanisms.

DP-FTRL is accounted under dp_accounting's only relation for trees, replace-one-user
(REPLACE_SPECIAL); DP-SGD under add-or-remove-one-user, privrec's unit (the stronger one), so
the comparison favours DP-FTRL. Nothing here reads private data: N is the public size of the
data set (MovieLens 1M: 6,038 users).

    .venv/bin/python bench/dp_ftrl_noise.py --json out/dp_ftrl_noise.json
"""
import argparse
import math
import os
import sys
from typing import Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dp_accounting  # noqa: E402
from dp_accounting import mechanism_calibration  # noqa: E402
from dp_accounting.rdp import rdp_privacy_accountant  # noqa: E402

from bench import report  # noqa: E402
from privrec import privacy  # noqa: E402

BRACKET = mechanism_calibration.ExplicitBracketInterval(1e-2, 1e4)


def tree_accountant() -> rdp_privacy_accountant.RdpAccountant:
    return rdp_privacy_accountant.RdpAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_SPECIAL)


def dp_ftrl_event(noise_multiplier: float, steps_per_epoch: int,
                  epochs: int) -> dp_accounting.DpEvent:
    """One tree per epoch (restarted), each user in at most one step of each tree."""
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.SingleEpochTreeAggregationDpEvent(noise_multiplier, steps_per_epoch),
        epochs)


def compare(num_users: int, users_per_step: int, epochs: int, epsilon: float,
            delta: float) -> Dict:
    """Both mechanisms calibrated to (ε, δ) for one shape, and the noise on the summed
    gradient each leaves in the model."""
    steps_per_epoch = math.ceil(num_users / users_per_step)
    steps = steps_per_epoch * epochs
    q = users_per_step / num_users
    sgd_sigma = privacy.noise_for_target_epsilon(epsilon, num_users, users_per_step, steps,
                                                 delta)
    ftrl_sigma = float(mechanism_calibration.calibrate_dp_mechanism(
        tree_accountant, lambda sigma: dp_ftrl_event(sigma, steps_per_epoch, epochs),
        epsilon, delta, bracket_interval=BRACKET, tol=1e-3))
    sgd_sum = sgd_sigma * math.sqrt(steps)
    ftrl_sum = ftrl_sigma * math.sqrt(epochs * bin(steps_per_epoch).count("1"))
    same_noise_sigma = ftrl_sum / math.sqrt(steps)
    same_noise_epsilon = privacy.composed_epsilon(
        [privacy.run_record(num_users, users_per_step, steps, same_noise_sigma)], delta)
    return {"users_per_step": users_per_step, "user_epochs": epochs, "steps": steps,
            "epsilon": epsilon, "dp_sgd_sigma": sgd_sigma, "dp_ftrl_sigma": ftrl_sigma,
            "dp_sgd_sum_noise": sgd_sum, "dp_ftrl_sum_noise": ftrl_sum,
            "ftrl_over_sgd": ftrl_sum / sgd_sum, "q": q,
            "dp_sgd_signal_to_noise": steps * users_per_step / sgd_sum,
            "dp_ftrl_signal_to_noise": steps * users_per_step / ftrl_sum,
            "dp_sgd_epsilon_at_ftrl_noise": same_noise_epsilon}


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=6038,
                        help="users in the data set (default: MovieLens 1M's, public)")
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--users-per-step", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--user-epochs", type=int, nargs="+", default=[1, 5, 20, 80])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 8.0])
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    rows = [compare(args.users, b, e, eps, args.delta)
            for eps in args.epsilons for b in args.users_per_step for e in args.user_epochs]
    print(f"{args.users} users, δ = {args.delta:g}; noise on the summed gradient in clip norms")
    print(f"{'ε':>4} {'users/step':>10} {'user-epochs':>11} {'steps':>6} {'σ DP-SGD':>9} "
          f"{'σ DP-FTRL':>10} {'sum DP-SGD':>11} {'sum DP-FTRL':>12} {'FTRL/SGD':>9} "
          f"{'DP-SGD ε at FTRL noise':>23} {'S/N DP-SGD':>11} {'S/N DP-FTRL':>12}")
    for r in rows:
        print(f"{r['epsilon']:>4g} {r['users_per_step']:>10} {r['user_epochs']:>11} "
              f"{r['steps']:>6} {r['dp_sgd_sigma']:>9.2f} {r['dp_ftrl_sigma']:>10.2f} "
              f"{r['dp_sgd_sum_noise']:>11.1f} {r['dp_ftrl_sum_noise']:>12.1f} "
              f"{r['ftrl_over_sgd']:>8.2f}x {r['dp_sgd_epsilon_at_ftrl_noise']:>23.2f} "
              f"{r['dp_sgd_signal_to_noise']:>11.0f} {r['dp_ftrl_signal_to_noise']:>12.0f}")
    best = {name: max(r[f"{name}_signal_to_noise"] for r in rows)
            for name in ("dp_sgd", "dp_ftrl")}
    print(f"best signal-to-noise over these shapes: DP-SGD {best['dp_sgd']:.0f}, "
          f"DP-FTRL {best['dp_ftrl']:.0f}")
    report.print_targets({"DP-FTRL's best shape carries more signal than DP-SGD's":
                          best["dp_ftrl"] > best["dp_sgd"]})
    numbers = {"num_users": args.users, "delta": args.delta, "rows": rows,
               "best_signal_to_noise": best}
    report.write_json(args.json, numbers)
    return numbers


if __name__ == "__main__":
    main()
