"""The pipeline's Trainer code run again on a finished run's Transform output, with other
privacy settings (no DP for the audit's comparison; each ε of the privacy-utility curve).

Only the optimizer's noise and clipping differ from the pipeline's model: same data, same
Transform graph, same architecture and steps. These models are not evaluated by the pipeline's
Evaluator and never pushed.
"""
import os
from typing import Dict, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils

from pipeline import configs, run_summary
from trainer import export, run as trainer_run

NON_DP = {"noise_multiplier": 0.0, "l2_norm_clip": 1e9, "target_epsilon": None}


def metadata_store(config: configs.PipelineConfig) -> mlmd.MetadataStore:
    return mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))


def inputs_of(store: mlmd.MetadataStore, output_type: str) -> Dict:
    """The input artifacts (tfx Artifacts by input name) of the newest `output_type`'s producer."""
    produced = run_summary.latest(store, output_type)
    execution_id = next(e.execution_id for e in store.get_events_by_artifact_ids([produced.id])
                        if e.type == metadata_store_pb2.Event.OUTPUT)
    events = [e for e in store.get_events_by_execution_ids([execution_id])
              if e.type == metadata_store_pb2.Event.INPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    types = {t.id: t for t in store.get_artifact_types_by_id(
        list({a.type_id for a in artifacts.values()}))}
    return {e.path.steps[0].key: artifact_utils.deserialize_artifact(
        types[artifacts[e.artifact_id].type_id], artifacts[e.artifact_id]) for e in events}


def pipeline_model_dir(store: mlmd.MetadataStore) -> str:
    return os.path.join(run_summary.latest(store, "Model").uri, "Format-Serving")


def retrain(config: configs.PipelineConfig, store: mlmd.MetadataStore, out_dir: str,
            steps: Optional[int] = None, **trainer_overrides) -> str:
    """Trains like the newest pipeline run's Trainer (for its number of steps unless `steps`),
    with `trainer_overrides` (TrainerConfig fields); returns the model directory."""
    inputs = inputs_of(store, "Model")
    examples, transform_graph = inputs["examples"], inputs["transform_graph"]
    steps = steps or export.read_privacy_report(pipeline_model_dir(store))["steps"]
    fn_args = fn_args_utils.FnArgs(
        train_files=[artifact_utils.get_split_uri([examples], "train") + "/*"],
        eval_files=[artifact_utils.get_split_uri([examples], "eval") + "/*"],
        transform_output=transform_graph.uri, transform_graph_path=transform_graph.uri,
        serving_model_dir=os.path.join(out_dir, "Format-Serving"), model_run_dir=out_dir,
        train_steps=steps, eval_steps=5,
        custom_config={**configs.trainer_custom_config(config), "warm_start": False,
                       "init_from": None, **trainer_overrides},
        data_accessor=fn_args_utils.DataAccessor(
            tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact(
                [examples], []),
            record_batch_factory=None, data_view_decode_fn=None))
    trainer_run.run_fn(fn_args)
    return fn_args.serving_model_dir
