"""`MaskingExampleGen`: a FileBasedExampleGen whose executor masks at ingestion.

Outputs `examples` (masked, split by time) and `masking_report` (JSON + HTML, see report.py).
"""
from tfx import types
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import component_spec, standard_artifacts, standard_component_specs

from components.masking import executor, settings
from components.masking import policy as policy_lib


class MaskingReport(types.Artifact):
    """Per-run masking report: counts per detector and column, k/l figures, ε per column."""
    TYPE_NAME = "privrec.MaskingReport"


class MaskingExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    OUTPUTS = {
        **standard_component_specs.FileBasedExampleGenSpec.OUTPUTS,
        executor.REPORT_KEY: component_spec.ChannelParameter(type=MaskingReport),
    }


class MaskingExampleGen(FileBasedExampleGen):
    """Ingests interaction CSVs under input_base, masked per the policy, split train/eval at
    shares of a public time window.

    input_pattern "span-{SPAN}/*.csv": FileBasedExampleGen's driver ingests the newest span
    folder only and records its span/version on the Examples artifact."""

    SPEC_CLASS = MaskingExampleGenSpec

    def __init__(self, input_base: str, policy: policy_lib.MaskingPolicy,
                 eval_fraction_buckets=(9, 1), allow_dev_key: bool = False,
                 input_pattern: str = "*.csv", key_fingerprint: str = "",
                 time_windows=None):
        """time_windows: {span (str, "0" without spans, "*" any): [start, end)} public Unix
        seconds that eval_fraction_buckets' shares cut (PipelineConfig.time_windows)."""
        train, evaluation = eval_fraction_buckets
        spec = MaskingExampleGenSpec(
            input_base=input_base,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name="single_split", pattern=input_pattern)]),
            output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train),
                        example_gen_pb2.SplitConfig.Split(name="eval",
                                                          hash_buckets=evaluation)])),
            custom_config=settings.make_custom_config(allow_dev_key, policy, key_fingerprint,
                                                      time_windows),
            range_config=None,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            examples=types.Channel(type=standard_artifacts.Examples),
            masking_report=types.Channel(type=MaskingReport))
        base_component.BaseComponent.__init__(
            self, spec=spec,
            custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor))
        self.with_id("MaskingExampleGen")
