"""Compiles the pipeline into a Kubeflow Pipelines v2 spec (JSON) with KubeflowV2DagRunner.

The container image must have privrec installed and TF_USE_LEGACY_KERAS=1 in its environment.
Beam runner settings come from `PipelineConfig.beam_pipeline_args` (configs.beam_args, e.g. the
dataflow preset). KubeflowV2DagRunner cannot compile ExampleValidator's custom_validation_config
(a proto execution property), so the compiled pipeline checks the curated schema without the
average string length checks (PipelineConfig.string_length_checks).

Each component's CPU/memory/GPU requests and limits (`PipelineConfig.kubeflow_resources`) are
set with `with_platform_config` (a KFP ResourceSpec), which TFX 1.16's step builder copies into
the container spec of every component but FileBasedExampleGens (MaskingExampleGen): there it is
dropped, so the compiled spec gets MaskingExampleGen's resources filled in afterwards.
KubeflowV2DagRunner cannot compile the drift check either: its baseline (the previous run's
statistics, a resolver function: components/validation/distribution.py) is not the single
channel it compiles. The skew check (eval vs train split) is compiled. For the same reason span
mode is refused: its training window (the latest N spans) is TFX's `rolling_range` resolver
function. The Trainer's privacy ledger input (the latest Model) is built as a Resolver node
with LatestArtifactStrategy, which compiles (pipeline/spans.py `latest_model`).
"""
import dataclasses
import json
import os

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from pipeline import configs
from pipeline.pipeline import create_pipeline

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


def resource_spec(resources: configs.Resources) -> ResourceSpec:
    spec = ResourceSpec(cpu_request=resources.cpu_request, cpu_limit=resources.cpu_limit,
                        memory_request=resources.memory_request_gb,
                        memory_limit=resources.memory_limit_gb)
    if resources.gpu_count:
        spec.accelerator.type = resources.gpu_type
        spec.accelerator.count = resources.gpu_count
    return spec


def _fill_dropped_resources(spec: dict, specs: dict) -> None:
    """Sets the resources of tasks whose container spec came out without them."""
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    components = spec["pipelineSpec"]["components"]
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    for task_id, resources in specs.items():
        executor = components[tasks[task_id]["componentRef"]["name"]]["executorLabel"]
        container = executors[executor]["container"]
        container.setdefault("resources", json_format.MessageToDict(resources))


def compile_pipeline(config: configs.PipelineConfig, output_file: str) -> str:
    if config.span_mode:
        raise ValueError(
            f"span mode ({config.interactions_dir} holds span folders, or SpanConfig.enabled) "
            "cannot be compiled for Kubeflow V2: its training window over the latest spans is "
            "TFX's rolling_range resolver function, and TFX 1.16's KubeflowV2DagRunner compiles "
            "only single channels and Resolver nodes (LatestArtifactStrategy, "
            "LatestBlessedModelStrategy). Compile the flat layout (interactions/*.csv: every "
            "run reads the whole folder; the privacy ledger composes the runs), or run span mode "
            "with LocalDagRunner (privrec run)")
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=config.kubeflow_image),
        output_dir=os.path.dirname(os.path.abspath(output_file)),
        output_filename=os.path.basename(output_file))
    pipeline = create_pipeline(dataclasses.replace(config, string_length_checks=None,
                                                   drift=None), kubeflow_v2=True)
    components = {component.id: component for component in pipeline.components}
    unknown = sorted(set(config.kubeflow_resources) - set(components))
    if unknown:
        raise ValueError(f"kubeflow_resources names no component of the pipeline: {unknown}; "
                         f"its components are {sorted(components)}")
    specs = {name: resource_spec(r) for name, r in config.kubeflow_resources.items()}
    for name, spec in specs.items():
        components[name].with_platform_config(spec)
    runner.run(pipeline)
    path = os.path.abspath(output_file)
    with open(path) as f:
        compiled = json.load(f)
    _fill_dropped_resources(compiled, specs)
    with open(path, "w") as f:
        json.dump(compiled, f, indent=2, sort_keys=True)
    return path
