"""ExampleGen executor that masks while it ingests: raw PII never reaches the pipeline root.

It reads the interaction CSVs, validates every row (errors name file, line and column, never a
raw value of a PII column), masks with `MaskInteractions`, and splits train/eval by time: the
output split buckets give the shares of the time range, the latest share being the last split.
"""
import csv
import glob
import os
from typing import Any, Dict, Iterable

import apache_beam as beam
from absl import logging
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.masking import pseudonymizer
from components.masking.ptransform import MaskInteractions
from privrec.data import schema

ALLOW_DEV_KEY = "allow_dev_key"


class InputDataError(ValueError):
    """Raised for input that cannot be ingested; the message says where and what to do."""


def input_files(input_base: str, pattern: str):
    files = sorted(f for f in glob.glob(os.path.join(input_base, pattern)) if os.path.isfile(f))
    if not files:
        raise InputDataError(f"no input files match {os.path.join(input_base, pattern)}")
    return files


def check_header(path: str) -> None:
    """Fails fast, before Beam starts, when a file lacks (or has unknown) columns."""
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise InputDataError(f"{path}: the file is empty; expected a header row with columns "
                             f"{', '.join(schema.INTERACTION_COLUMNS)}")
    missing = [c for c in schema.INTERACTION_COLUMNS if c not in header]
    unknown = [c for c in header if c not in schema.INTERACTION_COLUMNS]
    if missing:
        raise InputDataError(f"{path}: missing column(s) {', '.join(missing)}; every interaction "
                             f"file needs {', '.join(schema.INTERACTION_COLUMNS)}")
    if unknown:
        raise InputDataError(f"{path}: column(s) {', '.join(unknown)} have no masking rule; "
                             "remove them or add them to privrec.data.schema with a role, so "
                             "that no column slips through unmasked")


def read_rows(path: str) -> Iterable[Dict[str, Any]]:
    """Yields validated rows; the timestamp becomes an int."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if None in row or any(v is None for v in row.values()):
                raise InputDataError(f"{where}: expected {len(reader.fieldnames)} fields; check "
                                     "the quoting of that row")
            value = row[schema.TIMESTAMP].strip()
            if not value.lstrip("-").isdigit():
                raise InputDataError(
                    f"{where}, column '{schema.TIMESTAMP}': {value[:30]!r} is not an integer Unix "
                    "time in seconds; fix the row or convert the column")
            if not row[schema.ITEM_ID].strip():
                raise InputDataError(f"{where}, column '{schema.ITEM_ID}': empty; every "
                                     "interaction needs the item it was with")
            row[schema.TIMESTAMP] = int(value)
            yield row


def _allow_dev_key(exec_properties: Dict[str, Any]) -> bool:
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not raw:
        return False
    custom_config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(raw, custom_config)
    settings = struct_pb2.Struct()
    if custom_config.custom_config.Is(struct_pb2.Struct.DESCRIPTOR):
        custom_config.custom_config.Unpack(settings)
    return bool(json_format.MessageToDict(settings).get(ALLOW_DEV_KEY, False))


def make_custom_config(allow_dev_key: bool) -> example_gen_pb2.CustomConfig:
    settings = struct_pb2.Struct()
    settings.update({ALLOW_DEV_KEY: allow_dev_key})
    custom_config = example_gen_pb2.CustomConfig()
    custom_config.custom_config.Pack(settings)
    return custom_config


def _min_max(values):
    values = list(values)
    return (min(v[0] for v in values), max(v[1] for v in values)) if values else None


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Masking ExampleGen executor (see module docstring)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("GenerateExamplesByBeam is overridden: splits are by time")

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                                  output_config)
        splits = list(output_config.split_config.splits)
        if len(input_config.splits) != 1 or len(splits) < 2:
            raise ValueError("the masking ExampleGen takes one input split and >= 2 output "
                             "splits (e.g. train 9, eval 1 buckets = shares of the time range)")
        files = input_files(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                            input_config.splits[0].pattern)
        for path in files:
            check_header(path)
        key = pseudonymizer.load_key(_allow_dev_key(exec_properties))
        logging.info("Masking %d file(s); pseudonym key fingerprint %s", len(files), key.fingerprint)
        self._key_fingerprint = key.fingerprint

        total = sum(s.hash_buckets for s in splits)
        upper_shares = [sum(s.hash_buckets for s in splits[:i + 1]) / total for i in range(len(splits))]

        masked = (pipeline
                  | "Files" >> beam.Create(files)
                  | "ReadAndValidate" >> beam.FlatMap(read_rows)
                  | "Reshuffle" >> beam.Reshuffle()
                  | "Mask" >> MaskInteractions(key))
        bounds = (masked
                  | "TimeRange" >> beam.Map(lambda kv: (kv[0], kv[0]))
                  | "MinMax" >> beam.CombineGlobally(_min_max))

        def by_time(kv, n, time_range):
            low, high = time_range
            share = (kv[0] - low) / max(high - low, 1)
            return next(i for i, upper in enumerate(upper_shares) if share < upper or i == n - 1)

        parts = masked | "SplitByTime" >> beam.Partition(
            by_time, len(splits), time_range=beam.pvalue.AsSingleton(bounds))
        return {split.name: parts[i] | f"Serialized[{split.name}]" >> beam.Values()
                for i, split in enumerate(splits)}

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        for artifact in output_dict[standard_component_specs.EXAMPLES_KEY]:
            artifact.set_string_custom_property("pseudonym_key_fingerprint", self._key_fingerprint)
