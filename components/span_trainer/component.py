"""`SpanTrainer`: the TFX Trainer, plus the two inputs its privacy ledger needs (the pipeline's
Trainer in both modes; outside span mode the data is span 0).

`span_examples`: the masked Examples the run trains on (the latest N spans, or this run's;
Transform's transformed copies carry no span). `privacy_ledger`: the pipeline's latest Model
artifact (any, blessed or not), whose MLMD ledger this run extends (privrec/privacy/span_ledger.py).
"""
from typing import Any, Dict, Optional

from tfx import types
from tfx.components import Trainer
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import component_spec, standard_artifacts, standard_component_specs
from tfx.utils import json_utils

from components.span_trainer import executor

_TRAINER = standard_component_specs.TrainerSpec


class SpanTrainerSpec(_TRAINER):
    INPUTS = {
        **_TRAINER.INPUTS,
        executor.SPAN_EXAMPLES_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.Examples),
        executor.LEDGER_KEY: component_spec.ChannelParameter(
            type=standard_artifacts.Model, optional=True),
    }


class SpanTrainer(Trainer):
    """Trainer over transformed examples whose executor keeps the per-span privacy ledger."""

    SPEC_CLASS = SpanTrainerSpec

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 schema: types.BaseChannel, base_model: types.BaseChannel,
                 span_examples: types.BaseChannel, privacy_ledger: types.BaseChannel,
                 run_fn: str, train_args: trainer_pb2.TrainArgs,
                 eval_args: trainer_pb2.EvalArgs, custom_config: Optional[Dict[str, Any]]):
        spec = SpanTrainerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema,
            base_model=base_model, span_examples=span_examples, privacy_ledger=privacy_ledger,
            train_args=train_args, eval_args=eval_args, run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config),
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun))
        base_component.BaseComponent.__init__(
            self, spec=spec,
            custom_executor_spec=executor_spec.ExecutorClassSpec(executor.Executor))
        self.with_id("Trainer")
