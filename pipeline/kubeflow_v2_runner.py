"""Compiles the pipeline into a Kubeflow Pipelines v2 spec (JSON) with KubeflowV2DagRunner.

The container image must have privrec installed and TF_USE_LEGACY_KERAS=1 in its environment.
Beam runner settings come from `PipelineConfig.beam_pipeline_args` (e.g. --runner=DataflowRunner).
KubeflowV2DagRunner cannot compile ExampleValidator's custom_validation_config (a proto
execution property), so the compiled pipeline checks the curated schema without the average
string length checks (PipelineConfig.string_length_checks), nor the drift check: its baseline
(the previous run's statistics, a resolver function: components/validation/distribution.py) is
not the single channel it compiles. The skew check (eval vs train split) is compiled.
"""
import dataclasses
import os

from tfx import v1 as tfx

from pipeline import configs
from pipeline.pipeline import create_pipeline


def compile_pipeline(config: configs.PipelineConfig, output_file: str) -> str:
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=config.kubeflow_image),
        output_dir=os.path.dirname(os.path.abspath(output_file)),
        output_filename=os.path.basename(output_file))
    runner.run(create_pipeline(dataclasses.replace(config, string_length_checks=None, drift=None)))
    return os.path.abspath(output_file)
