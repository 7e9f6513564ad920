"""`ModelCardPusher`: TFX's Pusher, which also writes the model card next to the pushed model.

Inputs beyond the Pusher's: the masking report, the masked Examples (span, fingerprint) and the
Evaluator's output, so every number in the card comes from this run's artifacts. The released
card (DP outputs and public facts only, card.released) goes to <pushed version>/model_card/
(TF Serving ignores the directory); the internal card, with exact counts and metrics, to the
PushedModel artifact under the pipeline root. Models that are not blessed are not pushed and
get no card.
"""
import json
import os

from tfx import types
from tfx.components.pusher import component as pusher_component, executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, component_spec, standard_artifacts, standard_component_specs

from components.masking import report as masking_report
from components.masking.component import MaskingReport
from components.model_card import card
from pipeline import run_summary
from trainer import export, span_ledger

MASKING_REPORT, EXAMPLES, EVALUATION = "masking_report", "examples", "model_evaluation"


class ModelCardPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        MASKING_REPORT: component_spec.ChannelParameter(type=MaskingReport),
        EXAMPLES: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        EVALUATION: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }


class Executor(pusher_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        super().Do(input_dict, output_dict, exec_properties)
        pushed = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if pushed.get_int_custom_property("pushed") != 1:
            return
        destination = pushed.get_string_custom_property("pushed_destination")
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES])
        settings = json.loads(exec_properties.get(
            standard_component_specs.CUSTOM_CONFIG_KEY) or "{}")
        built = card.build(
            privacy=export.read_privacy_report(destination),
            masking=masking_report.read(
                artifact_utils.get_single_instance(input_dict[MASKING_REPORT]).uri),
            metrics=run_summary.candidate_metrics(
                artifact_utils.get_single_instance(input_dict[EVALUATION]).uri),
            data={"source": settings.get("data_source"), "span": examples.span,
                  "input_fingerprint": examples.get_string_custom_property(
                      "input_fingerprint")},
            model={"name": settings.get("model_name"),
                   "version": pushed.get_string_custom_property("pushed_version"),
                   "blessed": True, "pushed_to": destination},
            ledger=span_ledger.of_model_artifact(artifact_utils.get_single_instance(
                input_dict[standard_component_specs.MODEL_KEY])))
        card.write(card.released(built), os.path.join(destination, card.DIRECTORY))
        card.write(built, os.path.join(pushed.uri, card.DIRECTORY))


class ModelCardPusher(pusher_component.Pusher):
    SPEC_CLASS = ModelCardPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model, model_blessing, masking_report, examples, model_evaluation,
                 push_destination, data_source: str, model_name: str):
        spec = ModelCardPusherSpec(
            model=model, model_blessing=model_blessing, masking_report=masking_report,
            examples=examples, model_evaluation=model_evaluation,
            push_destination=push_destination,
            custom_config=json.dumps({"data_source": data_source, "model_name": model_name}),
            pushed_model=types.Channel(type=standard_artifacts.PushedModel))
        super(pusher_component.Pusher, self).__init__(spec=spec)
