"""Drift and skew checks (components/validation/distribution.py): TFX's DistributionValidator
executor on real TFDV statistics of generated data, read back by AnomalyGate's code."""
import dataclasses
import json
import os

import pytest
from tensorflow_data_validation.statistics import stats_impl
from tfx.components.distribution_validator import executor as dv_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx_bsl.coders import example_coder

from components.masking import policy
from components.masking.ptransform import to_example
from components.validation import anomalies as anomalies_lib
from components.validation import component as gate
from components.validation import distribution
from pipeline import configs
from privrec.data import generator, schema

TINY = policy.load(policy.TINY_POLICY)
REGIONS = TINY.columns["city"].params["mapping"]


def _masked_like(row):
    """The compared features of a generated row, generalised like the tiny policy does."""
    year = int(row["birth_date"][:4])
    return {"event_type": row["event_type"].encode(), "gender": row["gender"].encode(),
            "city": REGIONS.get(row["city"], "other").encode(),
            "birth_date": f"{year - year % 20}-{year - year % 20 + 19}".encode(),
            "order_amount": float(row["order_amount"]) if row["order_amount"] else None,
            schema.ITEM_ID: row["item_id"].encode()}


def _statistics(tmp_path, name, rows):
    """An ExampleStatistics artifact with train (first 90 %) and eval splits of rows."""
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(tmp_path / name)
    cut = len(rows) * 9 // 10
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    for split, part in (("train", rows[:cut]), ("eval", rows[cut:])):
        batch = decoder.DecodeBatch([to_example(_masked_like(r)) for r in part])
        os.makedirs(os.path.join(artifact.uri, f"Split-{split}"))
        with open(os.path.join(artifact.uri, f"Split-{split}",
                               stats_artifact_utils.BINARY_PB_BASENAME), "wb") as f:
            f.write(stats_impl.generate_statistics_in_memory(batch).SerializeToString())
    artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    return artifact


def _validate(tmp_path, current, baseline, check, thresholds, split_pairs=None):
    """Runs DistributionValidator's executor; returns AnomalyGate's lines for its output."""
    output = standard_artifacts.ExampleAnomalies()
    output.uri = str(tmp_path / f"{check}_anomalies")
    dv_executor.Executor().Do(
        {standard_component_specs.STATISTICS_KEY: [current],
         standard_component_specs.BASELINE_STATISTICS_KEY: [baseline] if baseline else []},
        {standard_component_specs.ANOMALIES_KEY: [output]},
        {standard_component_specs.DISTRIBUTION_VALIDATOR_CONFIG_KEY:
             distribution.validator_config(thresholds),
         standard_component_specs.INCLUDE_SPLIT_PAIRS_KEY: json.dumps(split_pairs)})
    return gate._comparison_lines(
        output, check, {check: {"l_infinity": thresholds.l_infinity,
                                "jensen_shannon": thresholds.jensen_shannon}})


def _interactions(seed):
    return generator.generate(generator.SIZES["tiny"], interactions_seed=seed)["interactions"]


def test_two_spans_of_the_same_shop_do_not_drift(tmp_path):
    day1 = _statistics(tmp_path, "day1", _interactions(1))
    day2 = _statistics(tmp_path, "day2", _interactions(2))
    assert _validate(tmp_path, day2, day1, "drift", configs.DRIFT_THRESHOLDS) == []


def test_a_shifted_span_drifts_naming_feature_comparator_and_threshold(tmp_path):
    day1 = _statistics(tmp_path, "day1", _interactions(1))
    shifted = _interactions(2)
    for i, row in enumerate(shifted):  # half the events become purchases, amounts x20
        if i % 2:
            row.update(event_type="purchase", order_amount=row["order_amount"] or "25.00")
        if row["order_amount"]:
            row["order_amount"] = str(float(row["order_amount"]) * 20)
    lines = _validate(tmp_path, _statistics(tmp_path, "day2", shifted), day1, "drift",
                      configs.DRIFT_THRESHOLDS)
    event = [line for line in lines if line.startswith("feature 'event_type'")]
    assert len(event) == 1 and "(drift: eval vs the previous run's eval, train vs the " \
        "previous run's train)" in event[0]
    assert "High Linfty distance" in event[0] and "purchase" in event[0]
    assert event[0].endswith("relax PipelineConfig.drift (pipeline/configs.py): "
                             f"l_infinity['event_type'], now "
                             f"{configs.DRIFT_THRESHOLDS.l_infinity['event_type']}")
    amount = [line for line in lines if line.startswith("feature 'order_amount'")]
    assert len(amount) == 1 and "Jensen-Shannon divergence" in amount[0]
    assert "jensen_shannon['order_amount']" in amount[0]
    assert not [line for line in lines if "'gender'" in line or "'city'" in line]
    with pytest.raises(anomalies_lib.DataAnomaliesError, match="drift / skew thresholds"):
        anomalies_lib.check({}, "schema.pbtxt", "checks.pbtxt", lines)


def test_first_run_has_no_baseline_and_passes(tmp_path):
    day1 = _statistics(tmp_path, "day1", _interactions(1))
    assert _validate(tmp_path, day1, None, "drift", configs.DRIFT_THRESHOLDS) == []


def test_a_feature_without_values_is_not_compared(tmp_path):
    """MovieLens has no order amounts: DistributionValidator cannot compare them (that is not
    drift); the curated schema guards that the feature is there."""
    rows = _interactions(1)
    for row in rows:
        row["order_amount"] = ""
    day = _statistics(tmp_path, "no_amounts", rows)
    assert _validate(tmp_path, day, day, "drift", configs.DRIFT_THRESHOLDS) == []


def test_skew_compares_the_eval_split_with_the_train_split(tmp_path):
    rows = _interactions(1)
    assert _validate(tmp_path, *[_statistics(tmp_path, "run", rows)] * 2, "skew",
                     configs.SKEW_THRESHOLDS, [distribution.SKEW_SPLIT_PAIR]) == []
    for row in rows[len(rows) * 9 // 10:]:  # serving traffic of one gender only
        row["gender"] = "F"
    lines = _validate(tmp_path, *[_statistics(tmp_path, "skewed", rows)] * 2, "skew",
                      configs.SKEW_THRESHOLDS, [distribution.SKEW_SPLIT_PAIR])
    assert len(lines) == 1 and lines[0].startswith("feature 'gender' (skew: eval vs train): ")
    assert "l_infinity['gender']" in lines[0]


def test_tiny_run_compares_eval_with_train_and_has_no_drift_baseline(tiny_run):
    """The shared run: both validators ran; the first run of a pipeline has no previous
    statistics (drift compares no split), eval vs train passes the skew thresholds."""
    import ml_metadata as mlmd
    from tfx import v1 as tfx
    config, progress, _ = tiny_run
    for node in (distribution.DRIFT_ID, distribution.SKEW_ID):
        assert any(f"finished: {node}" in line for line in progress), progress
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    pairs = {}
    for artifact in store.get_artifacts_by_type("ExampleAnomalies"):
        node = artifact.uri.split(os.sep)[-3]
        pairs[node] = artifact.properties["split_names"].string_value, artifact.uri
    assert pairs[distribution.DRIFT_ID][0] in ("", "[]")
    assert pairs[distribution.SKEW_ID][0] == '["eval_train"]'
    found = anomalies_lib.read(pairs[distribution.SKEW_ID][1], ["eval_train"],
                               anomalies_lib.SPLIT_PAIR_DIR)["eval_train"]
    assert not found.anomaly_info and {".".join(d.path.step) for d in found.drift_skew_info} == \
        {"event_type", "gender", "city", "birth_date", "order_amount"}


def _ingest_and_check_drift(config):
    """ExampleGen, StatisticsGen and the drift validator of pipeline.py, on config's data."""
    from tfx import v1 as tfx
    from components.masking.component import MaskingExampleGen
    example_gen = MaskingExampleGen(config.interactions_dir, policy.load(config.masking_policy),
                                    config.eval_fraction_buckets, config.allow_dev_key,
                                    time_windows=config.time_windows)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    drift = distribution.drift_validator(statistics_gen.outputs["statistics"], config.drift)
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, drift], enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path), beam_pipeline_args=config.beam_pipeline_args))
    latest = max(os.listdir(os.path.join(config.pipeline_root, distribution.DRIFT_ID,
                                         "anomalies")), key=int)
    uri = os.path.join(config.pipeline_root, distribution.DRIFT_ID, "anomalies", latest)
    artifact = standard_artifacts.ExampleAnomalies()  # as AnomalyGate gets it
    artifact.uri = uri
    artifact.split_names = artifact_utils.encode_split_names(
        [d[len(anomalies_lib.SPLIT_PAIR_DIR):] for d in os.listdir(uri)])
    return gate._comparison_lines(
        artifact, "drift", {"drift": dataclasses.asdict(config.drift)})


@pytest.mark.heavy
def test_second_run_is_compared_with_the_first_runs_statistics(tmp_path):
    """Two real ingestion runs in one MLMD: the resolver hands the drift validator the first
    run's statistics (not the second's own); shifted event types are drift."""
    config = configs.local_config(str(tmp_path), allow_dev_key=True,
                                  masking_policy=policy.TINY_POLICY)
    generator.write_dataset(config.data_dir, "tiny", interactions_seed=1)
    assert _ingest_and_check_drift(config) == []  # no previous run: nothing compared
    data = generator.generate(generator.SIZES["tiny"], interactions_seed=2)
    for row in data["interactions"][::2]:
        row.update(event_type="purchase", order_amount=row["order_amount"] or "25.00")
    generator.write_csv(os.path.join(config.interactions_dir, "data.csv"),
                        data["interactions"], schema.INTERACTION_COLUMNS)
    lines = _ingest_and_check_drift(config)
    assert [line for line in lines if line.startswith(
        "feature 'event_type' (drift: eval vs the previous run's eval, train vs the previous "
        "run's train): High Linfty distance")], lines
