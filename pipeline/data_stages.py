"""The pipeline's data stages alone: the components of `create_pipeline` up to Transform.

Used where the model is not the point: the multi-process Beam test
(tests/pipeline/test_scaling.py) and
bench/data_throughput.py. The components are the very ones `create_pipeline` builds (same
executors, same settings); only the Trainer and what follows it are cut off.
"""
from tfx import v1 as tfx

from components.validation import distribution
from pipeline import configs
from pipeline.pipeline import create_pipeline

DATA_STAGES = ("MaskingExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
               distribution.DRIFT_ID, distribution.SKEW_ID, "AnomalyGate", "Transform")


def create_data_pipeline(config: configs.PipelineConfig,
                         metadata_connection_config=None) -> tfx.dsl.Pipeline:
    """MaskingExampleGen → StatisticsGen → ImportSchemaGen/ExampleValidator (+ drift and skew
    DistributionValidators) → AnomalyGate → Transform, as in the full pipeline."""
    full = create_pipeline(config, metadata_connection_config)
    kept = [c for c in full.components if c.id in DATA_STAGES]
    for component in kept:
        for other in list(component.downstream_nodes):
            if other.id not in DATA_STAGES:
                component.remove_downstream_node(other)
    # The components already carry config.beam_pipeline_args (create_pipeline's Pipeline put
    # them on their executor specs); passing them again would add them a second time. TFX warns
    # that each component "is not found from the registry" (it was made for `full`): harmless,
    # `full` is dropped here.
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=kept, enable_cache=False,
        metadata_connection_config=metadata_connection_config)
