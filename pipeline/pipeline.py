"""The privrec TFX pipeline definition (one function, all stages)."""
import dataclasses
import json
from typing import Optional

import tensorflow_model_analysis as tfma
from google.protobuf import text_format
from tensorflow_data_validation.anomalies.proto import custom_validation_config_pb2
from tfx import v1 as tfx

from components.inventory.component import DataInventory
from components.masking import policy as masking_policy
from components.masking.component import MaskingExampleGen
from components.model_card.component import ModelCardPusher
from components.validation import distribution
from components.validation.component import AnomalyGate
from pipeline import configs, spans
from privrec.data import schema

OVERALL = tfma.SlicingSpec()
COLD_START = tfma.SlicingSpec(feature_keys=[schema.COLD_START_ITEM])


def _overall_only(threshold: tfma.MetricThreshold) -> tfma.PerSliceMetricThreshold:
    """Gates apply to the whole eval set, not to the cold-start slice (reported only)."""
    return tfma.PerSliceMetricThreshold(slicing_specs=[OVERALL], threshold=threshold)


def eval_config(config: configs.PipelineConfig) -> tfma.EvalConfig:
    """Recall@K, NDCG@K, MRR and catalog coverage (trainer/retrieval_metrics.py) for the
    candidate and the last blessed model, overall and on the cold-start slice (items with no
    training interaction, flagged by ExampleGen), and the candidate's DP ε
    (trainer/privacy_metric.py).

    Blessed when the gated recall is above the absolute floor, has not dropped by more than
    `recall_max_regression` from the baseline (the first model has no baseline: floor only), and
    ε is within `epsilon_budget`. The Pusher pushes blessed models only.
    """
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(
            class_name="PrivacyEpsilon", module="trainer.privacy_metric",
            per_slice_thresholds=[_overall_only(tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(
                    upper_bound={"value": config.epsilon_budget})))]),
        tfma.MetricConfig(class_name="CatalogCoverage", module="trainer.retrieval_metrics"),
    ]
    for k in config.trainer.eval_ks:
        name = f"recall_at_{k}"
        thresholds = []
        if name == config.recall_metric:
            thresholds = [_overall_only(tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(
                    lower_bound={"value": config.recall_floor}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -config.recall_max_regression})))]
        metrics.append(tfma.MetricConfig(class_name="RecallAtK",
                                         module="trainer.retrieval_metrics",
                                         config=f'{{"k": {k}}}', per_slice_thresholds=thresholds))
        metrics.append(tfma.MetricConfig(class_name="NdcgAtK", module="trainer.retrieval_metrics",
                                         config=f'{{"k": {k}}}'))
    metrics.append(tfma.MetricConfig(class_name="MeanReciprocalRank",
                                     module="trainer.retrieval_metrics"))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name="candidate", signature_name=configs.EVAL_SIGNATURE),
                     tfma.ModelSpec(name="baseline", signature_name=configs.EVAL_SIGNATURE,
                                    is_baseline=True)],
        slicing_specs=[OVERALL, COLD_START],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def string_length_checks(path: Optional[str]):
    """The custom validation config (text proto) at path, or None."""
    if not path:
        return None
    with open(path) as f:
        return text_format.Parse(f.read(), custom_validation_config_pb2.CustomValidationConfig())


def create_pipeline(config: configs.PipelineConfig, metadata_connection_config=None,
                    kubeflow_v2: bool = False) -> tfx.dsl.Pipeline:
    """The whole pipeline; `kubeflow_v2`: built for KubeflowV2DagRunner's compiler."""
    # Span mode is detected once (a listing of interactions/, remote on a bucket), then fixed.
    config = dataclasses.replace(config, spans=dataclasses.replace(
        config.spans, enabled=config.span_mode))
    example_gen = MaskingExampleGen(config.interactions_dir,
                                    masking_policy.load(config.masking_policy),
                                    config.eval_fraction_buckets, config.allow_dev_key,
                                    config.interactions_pattern, spans.key_fingerprint(config),
                                    config.time_windows)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    inventory = DataInventory(
        examples=example_gen.outputs["examples"], statistics=statistics_gen.outputs["statistics"],
        masking_report=example_gen.outputs["masking_report"],
        **dataclasses.asdict(config.inventory))
    schema_gen = spans.schema_gen(config)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        custom_validation_config=string_length_checks(config.string_length_checks))
    drift = distribution.drift_validator(statistics_gen.outputs["statistics"], config.drift)
    skew = distribution.skew_validator(statistics_gen.outputs["statistics"], config.skew)
    anomaly_gate = AnomalyGate(
        anomalies=example_validator.outputs["anomalies"], schema_file=config.schema_file,
        checks_file=config.string_length_checks or "",
        thresholds_json=json.dumps({check: dataclasses.asdict(thresholds) for check, thresholds
                                    in (("drift", config.drift), ("skew", config.skew))
                                    if thresholds}),
        **{key: validator.outputs["anomalies"] for key, validator
           in (("drift_anomalies", drift), ("skew_anomalies", skew)) if validator})
    custom_config = spans.custom_config(config, configs.trainer_custom_config(config))
    training_examples = spans.training_examples(config, example_gen.outputs["examples"])
    transform = tfx.components.Transform(
        examples=training_examples, schema=schema_gen.outputs["schema"],
        preprocessing_fn="trainer.features.preprocessing_fn", custom_config=custom_config,
        disable_statistics=not config.transform_statistics)
    transform.add_upstream_node(anomaly_gate)  # anomalies stop the run before Transform
    inventory.add_upstream_node(anomaly_gate)  # ... and before the inventory of the data
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("LatestBlessedModelResolver")
    latest_model, latest_model_channel = spans.latest_model(kubeflow_v2)
    trainer = spans.trainer(
        config, training_examples, latest_model_channel, run_fn="trainer.run.run_fn",
        base_model=baseline.outputs["model"],  # used when TrainerConfig.warm_start
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=5),
        custom_config=custom_config)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"], eval_config=eval_config(config))
    pusher = ModelCardPusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        masking_report=example_gen.outputs["masking_report"],
        examples=example_gen.outputs["examples"],
        model_evaluation=evaluator.outputs["evaluation"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.push_dir)),
        data_source=config.data_dir, model_name=config.model_name).with_id("Pusher")
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, inventory, schema_gen, example_validator]
        + [validator for validator in (drift, skew) if validator]
        + [anomaly_gate, transform] + ([latest_model] if latest_model else [])
        + [trainer, baseline, evaluator, pusher],
        enable_cache=config.span_mode, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_pipeline_args)
