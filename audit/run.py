"""The membership inference audit, end to end (`privrec audit`).

1. Hold whole users out (audit/user_holdout.py); the rest are the members.
2. Run the pipeline on the members' data: masking at ingestion, Transform, DP-SGD Trainer, ...
3. Train the same model without DP on the same Transform output (audit/retrain.py: noise
   multiplier 0, no clipping), so the two differ only in DP. Optionally a memorisation control:
   the non-DP model trained `control_steps_factor` times longer, which should overfit; an
   attack that cannot tell its members either is too weak to say anything about DP.
4. Score the members' training examples and the held-out users' examples (masked by the same
   ingestion code) with each model's eval signature; attack both with TF-Privacy's library
   (audit/membership_inference.py) at the user and the example level.
5. Write mia.json and mia.html: per model, ε as its Trainer recorded it, AUC and attacker
   advantage per level, slice and attack. Held-out users' rows stay outside the pipeline root.
6. Add the results to the model card of the DP model when the pipeline pushed it (both copies:
   next to the pushed version and in the PushedModel artifact).
"""
import html
import json
import os
from typing import Dict, Optional

from tfx.types import artifact_utils

from audit import membership_inference, retrain, user_holdout
from components.masking import policy as policy_lib, pseudonymizer
from components.model_card import card
from pipeline import configs, local_runner, run_summary
from trainer import export

JSON_FILE, HTML_FILE = "mia.json", "mia.html"


# The settings an audit takes over from the caller's config (paths are the audit's own).
CARRIED_SETTINGS = ("masking_policy", "allow_dev_key", "train_steps", "trainer", "epsilon_budget",
                    "recall_floor", "eval_fraction_buckets", "time_window", "beam_pipeline_args",
                    "schema_path", "string_length_checks")


def audit(data_dir: str, work_dir: str, holdout_share: float = 0.5, seed: int = 0,
          printer=print, settings: Optional[configs.PipelineConfig] = None,
          control_steps_factor: Optional[float] = None, **config_overrides) -> Dict:
    """Runs steps 1-6 under work_dir; returns the report (also in <work_dir>/mia.json).
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
    models = {"DP": dp_model,
              "non-DP": retrain.retrain(config, store, os.path.join(work_dir, "non_dp_model"),
                                        **retrain.NON_DP)}
    if control_steps_factor:
        steps = round(control_steps_factor * export.read_privacy_report(dp_model)["steps"])
        printer(f"[privrec audit] memorisation control: no DP, {steps} steps")
        models[control_name(control_steps_factor)] = retrain.retrain(
            config, store, os.path.join(work_dir, "control_model"), steps=steps,
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
    for name, model_dir in models.items():
        privacy = export.read_privacy_report(model_dir)
        report["models"][name] = {
            "model_dir": model_dir, "epsilon": privacy["epsilon"], "delta": privacy["delta"],
            "noise_multiplier": privacy["noise_multiplier"], "steps": privacy["steps"],
            **membership_inference.attack(
                membership_inference.score(model_dir, members),
                membership_inference.score(model_dir, non_members))}
    report["model_cards"] = add_to_model_card(store, report, os.path.join(work_dir, JSON_FILE))
    write(report, work_dir)
    return report


def control_name(control_steps_factor: float) -> str:
    return f"non-DP x{control_steps_factor:g} steps"


def add_to_model_card(store, report: Dict, report_path: str):
    """Step 6; returns the card directories written (none when the DP model was not pushed)."""
    pushed = run_summary.latest(store, "PushedModel")
    if pushed.custom_properties["pushed"].int_value != 1:
        return []
    destination = pushed.custom_properties["pushed_destination"].string_value
    # The attack's figures are exact statistics of private users: the internal card gets
    # them, the released card only says where they are.
    built = card.with_membership_inference(card.read(pushed.uri),
                                           card.membership_inference(report, report_path))
    directories = [os.path.join(d, card.DIRECTORY) for d in (destination, pushed.uri)]
    card.write(card.released(built), directories[0])
    card.write(built, directories[1])
    return directories


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
    widths = (max(map(len, report["models"])) + 2, 7, 8, 12, 20, 6, 10, 8, 12)
    printer("".join(f"{h:<{w}}" for h, w in zip(HEADERS, widths)))
    for row in table_rows(report):
        printer("".join(f"{str(c):<{w}}" for c, w in zip(row, widths)))
