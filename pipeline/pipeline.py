"""The privrec TFX pipeline definition (one function, all stages)."""
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.masking.component import MaskingExampleGen
from pipeline import configs


def eval_config(config: configs.PipelineConfig) -> tfma.EvalConfig:
    """Recall@K per example comes from the model's `eval` signature; TFMA averages it."""
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    for k in config.trainer.eval_ks:
        name = f"recall_at_{k}"
        threshold = None
        if name == config.recall_metric:
            threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": config.recall_floor}))
        metrics.append(tfma.MetricConfig(
            class_name="Mean", threshold=threshold,
            config=f'{{"feature_key_path": ["predictions", "hit_at_{k}"], "name": "{name}"}}'))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=configs.EVAL_SIGNATURE)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def create_pipeline(config: configs.PipelineConfig,
                    metadata_connection_config=None) -> tfx.dsl.Pipeline:
    example_gen = MaskingExampleGen(config.interactions_dir, config.eval_fraction_buckets,
                                    config.allow_dev_key)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                          infer_feature_shape=True)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    custom_config = configs.trainer_custom_config(config)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn="trainer.features.preprocessing_fn", custom_config=custom_config)
    trainer = tfx.components.Trainer(
        run_fn="trainer.run.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=5),
        custom_config=custom_config)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        eval_config=eval_config(config))
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.push_dir)))
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, example_validator, transform,
                    trainer, evaluator, pusher],
        enable_cache=False, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args)
