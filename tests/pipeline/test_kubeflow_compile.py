import json

import pytest

from pipeline import configs
from pipeline.kubeflow_v2_runner import compile_pipeline
from tests.e2e.test_pipeline_e2e import COMPONENTS


def _container(spec, task):
    pipeline_spec = spec["pipelineSpec"]
    component = pipeline_spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    executor = pipeline_spec["components"][component]["executorLabel"]
    return pipeline_spec["deploymentSpec"]["executors"][executor]["container"]


def test_compile_writes_a_v2_spec_naming_every_component(tmp_path):
    gpu_trainer = configs.Resources(cpu_request=4, cpu_limit=8, memory_request_gb=16,
                                    memory_limit_gb=32, gpu_type="NVIDIA_TESLA_T4", gpu_count=2)
    config = configs.local_config(
        str(tmp_path), beam_pipeline_args=configs.beam_args(
            "dataflow", project="p", region="europe-west4", temp_location="gs://privrec-t/tmp",
            sdk_container_image="privrec:1"),
        kubeflow_resources={**configs.KUBEFLOW_RESOURCES, "Trainer": gpu_trainer})
    path = compile_pipeline(config, str(tmp_path / "spec.json"))
    with open(path) as f:
        spec = json.load(f)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(COMPONENTS) <= set(tasks)
    assert "--runner=DataflowRunner" in _container(spec, "MaskingExampleGen")["args"]
    assert "--runner=DataflowRunner" in _container(spec, "Transform")["args"]
    assert spec["pipelineSpec"]["pipelineInfo"]["name"] == config.pipeline_name
    # The Trainer's privacy ledger input is the pipeline's latest Model (privrec/privacy/span_ledger.py).
    trainer_inputs = tasks["Trainer"]["inputs"]["artifacts"]
    assert trainer_inputs["privacy_ledger"]["taskOutputArtifact"] == {
        "outputArtifactKey": "model", "producerTask": "LatestModelResolver"}
    assert trainer_inputs["span_examples"]["taskOutputArtifact"]["producerTask"] == \
        "MaskingExampleGen"

    # Every configured component's container carries its requests and limits, MaskingExampleGen
    # (whose resources TFX 1.16 drops) included; the others carry none.
    for task, resources in config.kubeflow_resources.items():
        assert _container(spec, task)["resources"] == {
            "cpuRequest": resources.cpu_request, "cpuLimit": resources.cpu_limit,
            "memoryRequest": resources.memory_request_gb,
            "memoryLimit": resources.memory_limit_gb,
            **({"accelerator": {"type": resources.gpu_type, "count": str(resources.gpu_count)}}
               if resources.gpu_count else {})}, task
    assert _container(spec, "Trainer")["resources"]["accelerator"] == {
        "type": "NVIDIA_TESLA_T4", "count": "2"}
    assert "resources" not in _container(spec, "Pusher")
    assert "MaskingExampleGen" in config.kubeflow_resources


def test_resources_for_a_component_the_pipeline_lacks_are_refused(tmp_path):
    config = configs.local_config(str(tmp_path), kubeflow_resources={
        "Trainr": configs.Resources(cpu_limit=1)})
    with pytest.raises(ValueError, match=r"names no component of the pipeline: \['Trainr'\]"):
        compile_pipeline(config, str(tmp_path / "spec.json"))


def test_compile_refuses_span_mode_naming_why(tmp_path):
    config = configs.local_config(str(tmp_path), spans=configs.SpanConfig(enabled=True))
    with pytest.raises(ValueError, match=r"span mode .* cannot be compiled for Kubeflow V2: .*"
                                         r"rolling_range.*Compile the flat layout"):
        compile_pipeline(config, str(tmp_path / "spec.json"))
    assert not (tmp_path / "spec.json").exists()
