"""The masking ExampleGen's settings: the custom_config it is built with, and one resolved
`Settings` per execution (policy, key, input files, splits, public time window), with the
configuration errors that stop a run before Beam starts.
"""
import dataclasses
import json
from typing import Any, Dict, List, Optional, Sequence

from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.masking import lineage, malformed, pseudonymizer, reading, reidentification
from components.masking import policy as policy_lib
from components.masking import time_split
from privrec.data import schema

ALLOW_DEV_KEY = "allow_dev_key"
POLICY_JSON = "masking_policy_json"
KEY_FINGERPRINT = lineage.KEY_FINGERPRINT
TIME_WINDOWS = time_split.TIME_WINDOWS
ANY_SPAN = time_split.ANY_SPAN


def make_custom_config(allow_dev_key: bool, policy: policy_lib.MaskingPolicy,
                       key_fingerprint: str = "",
                       time_windows: Optional[Dict[str, Sequence[int]]] = None
                       ) -> example_gen_pb2.CustomConfig:
    """The executor's settings; the resolved policy travels (and is recorded in MLMD) as JSON.
    key_fingerprint (set when the pipeline caches): the pseudonym key the run must use, so a
    new key is a new cache key and a cached output never carries another key's pseudonyms.
    time_windows: {span ("0" without spans, "*" any span): [start, end)} public Unix seconds
    the split cuts (PipelineConfig.time_windows); a new window is a new cache key."""
    settings = struct_pb2.Struct()
    settings.update({ALLOW_DEV_KEY: allow_dev_key, POLICY_JSON: json.dumps(policy.source),
                     TIME_WINDOWS: json.dumps(time_windows or {})})
    if key_fingerprint:
        settings.update({KEY_FINGERPRINT: key_fingerprint})
    custom_config = example_gen_pb2.CustomConfig()
    custom_config.custom_config.Pack(settings)
    return custom_config


def io_configs(exec_properties: Dict[str, Any]):
    """The component's input and output configs (example_gen_pb2.Input, Output)."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    return input_config, output_config


def custom_settings(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """make_custom_config's settings, back from the exec property (empty if none)."""
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    settings = struct_pb2.Struct()
    if raw:
        custom_config = example_gen_pb2.CustomConfig()
        proto_utils.json_to_proto(raw, custom_config)
        if custom_config.custom_config.Is(struct_pb2.Struct.DESCRIPTOR):
            custom_config.custom_config.Unpack(settings)
    return json_format.MessageToDict(settings)


def user_column(policy: policy_lib.MaskingPolicy) -> Optional[str]:
    """The user column when the policy pseudonymises it (per-user rules need it), else None."""
    pseudonymized = [r.column for r in policy.columns.values() if r.action == "pseudonymize"]
    return schema.USER_ID if schema.USER_ID in pseudonymized else None


def check_policy(policy: policy_lib.MaskingPolicy) -> None:
    """What the executor needs of a policy beyond policy.py's own checks."""
    timestamp_rule = policy.columns.get(schema.TIMESTAMP)
    if not timestamp_rule or timestamp_rule.params.get("method") != "truncate_time":
        raise policy_lib.PolicyError(
            f"masking policy {policy.version}: column '{schema.TIMESTAMP}' must be a "
            "quasi_identifier with generalize method truncate_time (seconds: 1 keeps it)")
    rule = policy.k_anonymity
    if not rule:
        return
    # Cell suppression writes "*" into the quasi-identifiers: each must be released as text.
    numeric = [c for c in rule.quasi_identifiers
               if policy.columns[c].params.get("method") == "truncate_time"]
    if numeric:
        raise policy_lib.PolicyError(
            f"masking policy {policy.version}: k_anonymity quasi_identifiers {numeric} are "
            "released as numbers (truncate_time), so their cells cannot be suppressed with "
            f"{reidentification.SUPPRESSED.decode()!r}; list only text quasi-identifiers "
            "(year_band, map, prefix, bucket, as_is)")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything one execution of the masking ExampleGen works from, resolved and checked."""
    policy: policy_lib.MaskingPolicy
    key: pseudonymizer.PseudonymKey
    files: List[str]
    splits: List[example_gen_pb2.SplitConfig.Split]
    window: time_split.Window
    span: int
    version: int

    @property
    def split_names(self) -> List[str]:
        return [split.name for split in self.splits]


def resolve(exec_properties: Dict[str, Any]) -> Settings:
    """The exec properties -> Settings; refuses, naming what to change, a run that cannot go
    on (split configs, policy, files with headers only, a key or window that is not given)."""
    input_config, output_config = io_configs(exec_properties)
    splits = list(output_config.split_config.splits)
    if len(input_config.splits) != 1 or len(splits) < 2:
        raise ValueError("the masking ExampleGen takes one input split and >= 2 output "
                         "splits (e.g. train 9, eval 1 buckets = shares of the time window)")
    settings = custom_settings(exec_properties)
    if POLICY_JSON not in settings:
        raise policy_lib.PolicyError("no masking policy in the component's custom_config")
    policy = policy_lib.from_dict(json.loads(settings[POLICY_JSON]))
    check_policy(policy)
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    files = reading.input_files(input_base, input_config.splits[0].pattern)
    if not [path for path in files if reading.check_header(path, policy)]:
        raise malformed.InputDataError(
            f"{', '.join(files)}: only header rows, no interactions; nothing to train on "
            "(add data, or check the input pattern)")
    key = pseudonymizer.load_key(bool(settings.get(ALLOW_DEV_KEY, False)))
    if settings.get(KEY_FINGERPRINT, key.fingerprint) != key.fingerprint:
        raise pseudonymizer.MissingKeyError(
            f"the pipeline was built for pseudonym key {settings[KEY_FINGERPRINT]} but this "
            f"run loaded key {key.fingerprint}: build and run the pipeline with one key")
    span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) or 0
    window = time_split.split_window(json.loads(settings.get(TIME_WINDOWS) or "{}"), span,
                                     input_base)
    return Settings(policy=policy, key=key, files=files, splits=splits, window=window,
                    span=span,
                    version=exec_properties.get(example_gen_utils.VERSION_PROPERTY_NAME) or 0)
