"""SpanTrainer's executor: hands run_fn the spans it trains on and the pipeline's privacy
ledger so far, then records the extended ledger on the Model artifact in MLMD."""
import json
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils

from components.masking.executor import KEY_FINGERPRINT
from components.span_trainer import disjoint_users
from privrec.privacy import span_ledger

SPAN_EXAMPLES_KEY = "span_examples"
LEDGER_KEY = "privacy_ledger"
TRAINED_SPANS = "trained_spans"


def _spans(examples: List[types.Artifact]) -> List[int]:
    """The span of each Examples artifact; refuses spans pseudonymised under different keys
    (a user would be two pseudonyms: two 'users' to the DP accounting)."""
    keys = dict(sorted((a.span, a.get_string_custom_property(KEY_FINGERPRINT)) for a in examples))
    if len(set(keys.values())) > 1:
        raise ValueError(
            "the spans to train on were pseudonymised under different keys (span: key "
            f"fingerprint {keys}): one user would count as several and user-level DP would not "
            "hold. Re-ingest the older spans with the current key, or train on fewer spans "
            "(SpanConfig.training_spans).")
    return sorted(keys)


def _earlier_runs(latest_models: List[types.Artifact]) -> List[Dict]:
    if not latest_models:
        return []
    ledger = span_ledger.of_model_artifact(latest_models[0])
    if ledger is None:
        logging.warning("The latest Model (%s) has no privacy ledger (trained by a Trainer "
                        "without one): the ledger starts empty", latest_models[0].uri)
        return []
    return ledger["runs"]


class Executor(trainer_executor.GenericExecutor):
    """GenericExecutor with the span ledger (see module docstring)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        config = json_utils.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])
        spans = _spans(input_dict[SPAN_EXAMPLES_KEY])
        if not config[span_ledger.CONFIG_KEY]["spans_share_users"]:
            disjoint_users.check(input_dict[SPAN_EXAMPLES_KEY])
        config[span_ledger.CONFIG_KEY] = {
            **config[span_ledger.CONFIG_KEY], "spans": spans,
            "earlier_runs": _earlier_runs(input_dict.get(LEDGER_KEY, []))}
        logging.info("Training on spans %s", spans)
        super().Do(input_dict, output_dict, {
            **exec_properties,
            standard_component_specs.CUSTOM_CONFIG_KEY: json_utils.dumps(config)})
        model = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.MODEL_KEY])
        ledger = span_ledger.read(model.uri)
        model.set_string_custom_property(span_ledger.LEDGER_PROPERTY, json.dumps(ledger))
        model.set_string_custom_property(TRAINED_SPANS, ",".join(map(str, spans)))
