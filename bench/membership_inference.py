"""Membership inference benchmark: the DP model and the same model without DP, side by side.

Runs `privrec audit` (audit/run.py) on MovieLens 100K (or --data-dir, any privrec data dir):
half of the users held out, the pipeline on the rest, the same Trainer without DP, TF-Privacy's
threshold and logistic-regression attacks at the user and the example level, and a memorisation
control (the non-DP model trained --control-steps-factor times longer). Prints the table
and the target check (issues #7, #32: DP user-level AUC <= 0.52 while the non-DP one is
measurably higher), and writes every number as JSON with --json PATH.

    .venv/bin/python bench/membership_inference.py --train-steps 300 --json out/mia.json
"""
import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ML = os.path.join(ROOT, "..", "shared", "data", "movielens-100k")
TARGET_DP_AUC = 0.52
SUPPRESSION_SHARE = 0.15


def auc_standard_error(row) -> float:
    """Hanley & McNeil (1982): the standard error of an AUC from members vs non-members."""
    auc, n_in, n_out = row["auc"], row["members"], row["non_members"]
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return math.sqrt((auc * (1 - auc) + (n_in - 1) * (q1 - auc * auc)
                      + (n_out - 1) * (q2 - auc * auc)) / (n_in * n_out))


def _movielens_schema() -> str:
    from components.masking import policy
    from pipeline import configs
    return configs.CURATED_SCHEMAS[policy.MOVIELENS_POLICY]


def _holdout_policy(work_dir: str) -> str:
    """movielens.yaml with more k-anonymity suppression allowed: with half of the 943 users held
    out, more of the rest are alone in their class (7.8 % of rows at k_min 5)."""
    from components.masking import policy
    path = os.path.join(work_dir, "movielens_holdout.yaml")
    os.makedirs(work_dir, exist_ok=True)
    with open(path, "w") as f:
        f.write(f"extends: {policy.MOVIELENS_POLICY}\nversion: movielens-holdout\n"
                f"k_anonymity: {{max_suppressed_row_share: {SUPPRESSION_SHARE}}}\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ml-dir", default=DEFAULT_ML)
    parser.add_argument("--data-dir", help="a privrec data dir instead of MovieLens")
    parser.add_argument("--policy", help="masking policy (default: movielens.yaml allowing "
                        f"{SUPPRESSION_SHARE * 100:.0f}%% k-anonymity suppression)")
    parser.add_argument("--schema", help="curated schema of the masked examples (default: "
                        "MovieLens's, which the default policy's generalisation matches)")
    parser.add_argument("--no-skew-check", action="store_true",
                        help="skip the eval-vs-train skew check: with half of MovieLens's users "
                        "held out, the region mix of the last tenth of the time range moves "
                        "by up to 0.23 (L-infinity) from the training split's, above the 0.2 "
                        "threshold")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--train-steps", type=int, help="DP-SGD steps (default: 300, or the "
                        "user-epochs of the policy's preset, configs.policy_preset)")
    parser.add_argument("--control-steps-factor", type=float, default=10.0,
                        help="also attack the non-DP model trained this many times longer (a "
                        "memorisation control: the attack must see its members; 0: none)")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    from audit import membership_inference, run as audit_run
    from bench import report as bench_report
    from components.masking import pseudonymizer
    from pipeline import configs
    from privrec.data import movielens
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bench-mia-")
    data_dir = args.data_dir or movielens.write_dataset(args.ml_dir,
                                                        os.path.join(work_dir, "data"))
    os.environ.setdefault(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    preset = configs.policy_preset(args.policy) if args.policy else {}
    if "trainer" in preset:  # e.g. MovieLens 1M's benchmarked DP settings
        preset["trainer"] = configs.TrainerConfig(**preset["trainer"])
    train_steps = args.train_steps or (None if preset else 300)
    report = audit_run.audit(data_dir, work_dir, train_steps=train_steps, **preset,
                             masking_policy=args.policy or _holdout_policy(work_dir),
                             schema_path=args.schema or (None if args.policy else
                                                         _movielens_schema()),
                             control_steps_factor=args.control_steps_factor or None,
                             skew=None if args.no_skew_check else configs.SKEW_THRESHOLDS)
    steps = report["models"]["DP"]["steps"]
    print(f"membership inference: {report['holdout']['member_users']} member users, "
          f"{report['holdout']['non_member_users']} held out, {steps} steps")
    audit_run.print_table(report)
    user = {name: next(r for r in model["user"] if r["slice"] == "all users"
                       and r["attack"] == "threshold_attack")
            for name, model in report["models"].items()}
    worst = {name: membership_inference.most_vulnerable(model["user"])
             for name, model in report["models"].items()}

    def measurably_above(a: str, b: str):
        """a's AUC exceeds b's by more than two standard errors of the difference."""
        margin = 2 * math.hypot(auc_standard_error(user[a]), auc_standard_error(user[b]))
        return user[a]["auc"] - user[b]["auc"] > margin, margin

    above, margin = measurably_above("non-DP", "DP")
    targets = {f"DP user-level AUC (threshold, all users) <= {TARGET_DP_AUC}":
               user["DP"]["auc"] <= TARGET_DP_AUC,
               f"non-DP user-level AUC above the DP one by > {margin:.3f} (2 s.e.)": above}
    if args.control_steps_factor:
        control = audit_run.control_name(args.control_steps_factor)
        above, margin = measurably_above(control, "non-DP")
        targets[f"the attack sees memorisation: {control} AUC above the non-DP one by > "
                f"{margin:.3f} (2 s.e.)"] = above
    for name, row in worst.items():
        print(f"most vulnerable ({name}): {row['slice']}, {row['attack']}: AUC {row['auc']:.3f}, "
              f"advantage {row['advantage']:.3f}")
    bench_report.print_targets(targets)
    bench_report.write_json(args.json, {**report, "targets": targets,
                                        "train_steps": steps})


if __name__ == "__main__":
    main()
