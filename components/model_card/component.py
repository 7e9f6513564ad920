"""`ModelCardPusher`: TFX's Pusher, which also writes the model card next to the pushed model.

Inputs beyond the Pusher's: the masking report, the masked Examples (span, fingerprint) and the
Evaluator's output, so every number in the card comes from this run's artifacts. A local
version is written atomically (staged under a hidden name, renamed). The released
card (DP outputs and public facts only, card.released) goes to <pushed version>/model_card/
(TF Serving ignores the directory); the internal card, with exact counts and metrics, to the
PushedModel artifact under the pipeline root. Models that are not blessed are not pushed and
get no card.
"""
import json
import os
import time

from tfx import types
from tfx.components.pusher import component as pusher_component, executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, component_spec, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.masking import report as masking_report
from components.masking.component import MaskingReport
from components.model_card import card, evaluation
from privrec import contract
from privrec.privacy import span_ledger
from serving import atomic_push

MASKING_REPORT, EXAMPLES, EVALUATION = "masking_report", "examples", "model_evaluation"


class ModelCardPusherSpec(standard_component_specs.PusherSpec):
    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        MASKING_REPORT: component_spec.ChannelParameter(type=MaskingReport),
        EXAMPLES: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        EVALUATION: component_spec.ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }


class Executor(pusher_executor.Executor):
    """TFX's Pusher, writing a local version atomically (serving/atomic_push.py: staged under
    a hidden name with its released card, then renamed), so a model server polling the base
    directory never loads half a model. Remote destinations (gs://…) keep TFX's copy, which
    writes saved_model.pb last."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        if "://" in base:
            super().Do(input_dict, output_dict, exec_properties)
            pushed = artifact_utils.get_single_instance(
                output_dict[standard_component_specs.PUSHED_MODEL_KEY])
            if pushed.get_int_custom_property("pushed") == 1:
                path = pushed.get_string_custom_property("pushed_destination")
                internal = self._card(input_dict, exec_properties, path,
                                      pushed.get_string_custom_property("pushed_version"))
                card.write(card.released(internal), os.path.join(path, card.DIRECTORY))
                card.write(internal, os.path.join(pushed.uri, card.DIRECTORY))
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed)
            return
        model_path = self.GetModelPath(input_dict)
        version = int(time.time())
        internal = self._card(input_dict, exec_properties, os.path.join(base, str(version)),
                              str(version), model_path)
        serving_path = atomic_push.push_version(
            model_path, base, version, before_publish=lambda staged: card.write(
                card.released(internal), os.path.join(staged, card.DIRECTORY)))
        io_utils.copy_dir(model_path, pushed.uri)
        card.write(internal, os.path.join(pushed.uri, card.DIRECTORY))
        self._MarkPushed(pushed, pushed_destination=serving_path, pushed_version=str(version))

    def _card(self, input_dict, exec_properties, destination: str, version: str,
              model_path: str = None):
        """The internal card of the model pushed to `destination` (card.build)."""
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES])
        settings = json.loads(exec_properties.get(
            standard_component_specs.CUSTOM_CONFIG_KEY) or "{}")
        return card.build(
            privacy=contract.read_privacy_report(model_path or destination),
            masking=masking_report.read(
                artifact_utils.get_single_instance(input_dict[MASKING_REPORT]).uri),
            metrics=evaluation.candidate_metrics(
                artifact_utils.get_single_instance(input_dict[EVALUATION]).uri),
            data={"source": settings.get("data_source"), "span": examples.span,
                  "input_fingerprint": examples.get_string_custom_property(
                      "input_fingerprint")},
            model={"name": settings.get("model_name"), "version": version, "blessed": True,
                   "pushed_to": destination},
            ledger=span_ledger.of_model_artifact(artifact_utils.get_single_instance(
                input_dict[standard_component_specs.MODEL_KEY])))


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
