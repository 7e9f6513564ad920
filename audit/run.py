"""The membership inference audit, end to end (`privrec audit`).

1. Hold whole users out (audit/user_holdout.py); the rest are the members.
2. Run the pipeline on the members' data: masking at ingestion, Transform, DP-SGD Trainer, ...
3. Train the same model without DP on the same Transform output (trainer.run.run_fn with noise
   multiplier 0 and no clipping), so the two differ only in DP.
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

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils

from audit import membership_inference, user_holdout
from components.masking import policy as policy_lib, pseudonymizer
from pipeline import configs, local_runner
from trainer import export, run as trainer_run

JSON_FILE, HTML_FILE = "mia.json", "mia.html"
NON_DP = {"noise_multiplier": 0.0, "l2_norm_clip": 1e9, "target_epsilon": None,
          "warm_start": False, "init_from": None}


def _inputs_of(store: mlmd.MetadataStore, output_type: str) -> Dict:
    """The input artifacts (tfx Artifacts by input name) of the newest `output_type`'s producer."""
    produced = max(store.get_artifacts_by_type(output_type), key=lambda a: a.id)
    execution_id = next(e.execution_id for e in store.get_events_by_artifact_ids([produced.id])
                        if e.type == metadata_store_pb2.Event.OUTPUT)
    events = [e for e in store.get_events_by_execution_ids([execution_id])
              if e.type == metadata_store_pb2.Event.INPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    types = {t.id: t for t in store.get_artifact_types_by_id(
        list({a.type_id for a in artifacts.values()}))}
    return {e.path.steps[0].key: artifact_utils.deserialize_artifact(
        types[artifacts[e.artifact_id].type_id], artifacts[e.artifact_id]) for e in events}


def train_without_dp(config: configs.PipelineConfig, store: mlmd.MetadataStore,
                     out_dir: str) -> str:
    """The pipeline's Trainer code on the same Transform output, without DP; returns the model
    directory (it is neither evaluated nor pushed)."""
    inputs = _inputs_of(store, "Model")
    examples, transform_graph = inputs["examples"], inputs["transform_graph"]
    dp_report = export.read_privacy_report(os.path.join(
        max(store.get_artifacts_by_type("Model"), key=lambda a: a.id).uri, "Format-Serving"))
    fn_args = fn_args_utils.FnArgs(
        train_files=[artifact_utils.get_split_uri([examples], "train") + "/*"],
        eval_files=[artifact_utils.get_split_uri([examples], "eval") + "/*"],
        transform_output=transform_graph.uri, transform_graph_path=transform_graph.uri,
        serving_model_dir=os.path.join(out_dir, "Format-Serving"), model_run_dir=out_dir,
        train_steps=dp_report["steps"], eval_steps=5,
        custom_config={**configs.trainer_custom_config(config), **NON_DP},
        data_accessor=fn_args_utils.DataAccessor(
            tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact(
                [examples], []),
            record_batch_factory=None, data_view_decode_fn=None))
    trainer_run.run_fn(fn_args)
    return fn_args.serving_model_dir


# The settings an audit takes over from the caller's config (paths are the audit's own).
CARRIED_SETTINGS = ("masking_policy", "allow_dev_key", "train_steps", "trainer", "epsilon_budget",
                    "eval_fraction_buckets", "beam_pipeline_args")


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
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    dp_model = os.path.join(max(store.get_artifacts_by_type("Model"), key=lambda a: a.id).uri,
                            "Format-Serving")
    printer("[privrec audit] training the same model without DP")
    non_dp_model = train_without_dp(config, store, os.path.join(work_dir, "non_dp_model"))

    masked = _inputs_of(store, "ModelEvaluation")["examples"]
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
