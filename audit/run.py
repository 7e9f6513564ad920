"""The membership inference audit, end to end (`privrec audit`).

1. Hold whole users out (audit/user_holdout.py); the rest are the members.
2. Run the pipeline on the members' data: masking at ingestion, Transform, DP-SGD Trainer, ...
3. Train the same model without DP on the same Transform output (audit/retrain.py: noise
   multiplier 0, no clipping), so the two differ only in DP.
4. Score the members' training examples and the held-out users' examples (masked by the same
   ingestion code) with each model's eval signature; attack both with TF-Privacy's library
   (audit/membership_inference.py) at the user and the example level.
5. Write mia.json and mia.html: per model, ε as its Trainer recorded it, AUC and attacker
   advantage per level, slice and attack. Held-out users' rows stay outside the pipeline root.
"""
import html
import json
import os
from typing import Dict, Optional

from tfx.types import artifact_utils

from audit import membership_inference, retrain, user_holdout
from components.masking import policy as policy_lib, pseudonymizer
from pipeline import configs, local_runner
from trainer import export

JSON_FILE, HTML_FILE = "mia.json", "mia.html"


# The settings an audit takes over from the caller's config (paths are the audit's own).
CARRIED_SETTINGS = ("masking_policy", "allow_dev_key", "train_steps", "trainer", "epsilon_budget",
                    "eval_fraction_buckets", "beam_pipeline_args", "schema_path",
                    "string_length_checks")


def audit(data_dir: str, work_dir: str, holdout_share: float = 0.5, seed: int = 0,
          printer=print, settings: Optional[configs.PipelineConfig] = None,
          **config_overrides) -> Dict:
    """Runs steps 1-5 under work_dir; returns the report (also in <work_dir>/mia.json).
    Pipeline settings come from `settings` (its paths are ignored) and `config_overrides`."""
    work_dir = os.path.abspath(work_dir)
    if settings is not None:
        config_overrides = {**{k: getattr(settings, k) for k in CARRIED_SETTINGS},
                            **config_overrides}
    holdout = user_holdout.split(data_dir, os.path.join(work_dir, "holdout"), holdout_share,
                                 seed)
    printer(f"[privrec audit] {holdout['member_users']} member users, "
            f"{holdout['non_member_users']} held out")
    config = configs.local_config(os.path.join(work_dir, "pipeline"),
                                  data_dir=holdout["members_dir"], **config_overrides)
    local_runner.run(config, printer)
    store = retrain.metadata_store(config)
    dp_model = retrain.pipeline_model_dir(store)
    printer("[privrec audit] training the same model without DP")
    non_dp_model = retrain.retrain(config, store, os.path.join(work_dir, "non_dp_model"),
                                   **retrain.NON_DP)

    masked = retrain.inputs_of(store, "ModelEvaluation")["examples"]
    members = membership_inference.read_examples(
        artifact_utils.get_split_uri([masked], "train") + "/*")
    non_members = membership_inference.mask_rows(
        user_holdout.read_rows(holdout["non_members"]), policy_lib.load(config.masking_policy),
        pseudonymizer.load_key(config.allow_dev_key),
        membership_inference.max_timestamp(members))
    report = {"holdout": {k: holdout[k] for k in ("member_users", "non_member_users")},
              "member_examples": len(members), "non_member_examples": len(non_members),
              "models": {}}
    for name, model_dir in (("DP", dp_model), ("non-DP", non_dp_model)):
        privacy = export.read_privacy_report(model_dir)
        report["models"][name] = {
            "model_dir": model_dir, "epsilon": privacy["epsilon"], "delta": privacy["delta"],
            "noise_multiplier": privacy["noise_multiplier"], "steps": privacy["steps"],
            **membership_inference.attack(
                membership_inference.score(model_dir, members),
                membership_inference.score(model_dir, non_members))}
    write(report, work_dir)
    return report


def table_rows(report: Dict):
    for name, model in report["models"].items():
        for level in ("user", "example"):
            for row in model[level]:
                yield (name, f"{model['epsilon']:.3g}", level, row["slice"], row["attack"],
                       f"{row['auc']:.3f}", f"{row['advantage']:.3f}", row["members"],
                       row["non_members"])


HEADERS = ("model", "ε", "level", "slice", "attack", "AUC", "advantage", "members",
           "non-members")


def write(report: Dict, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, JSON_FILE), "w") as f:
        json.dump(report, f, indent=2)
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                    for row in table_rows(report))
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    with open(os.path.join(directory, HTML_FILE), "w", encoding="utf-8") as f:
        f.write("<!doctype html><meta charset='utf-8'><title>privrec membership inference</title>"
                "<h1>Membership inference (TF-Privacy)</h1>"
                f"<p>{report['holdout']['member_users']} member users, "
                f"{report['holdout']['non_member_users']} held-out users</p>"
                f"<table border=1><tr>{head}</tr>{cells}</table>")


def print_table(report: Dict, printer=print) -> None:
    widths = (7, 7, 8, 12, 20, 6, 10, 8, 12)
    printer("".join(f"{h:<{w}}" for h, w in zip(HEADERS, widths)))
    for row in table_rows(report):
        printer("".join(f"{str(c):<{w}}" for c, w in zip(row, widths)))
