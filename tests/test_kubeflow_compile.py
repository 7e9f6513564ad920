import json

from pipeline import configs
from pipeline.kubeflow_v2_runner import compile_pipeline
from tests.test_pipeline_e2e import COMPONENTS


def test_compile_writes_a_v2_spec_naming_every_component(tmp_path):
    config = configs.local_config(str(tmp_path), beam_pipeline_args=["--runner=DataflowRunner",
                                                                      "--project=p"])
    path = compile_pipeline(config, str(tmp_path / "spec.json"))
    with open(path) as f:
        spec = json.load(f)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(COMPONENTS) <= set(tasks)
    assert "--runner=DataflowRunner" in json.dumps(spec)
    assert spec["pipelineSpec"]["pipelineInfo"]["name"] == config.pipeline_name
