"""The curated schema (pipeline/schema/) and the anomaly gate: bad masked data stops the run
before Transform with a message naming the feature, the anomaly and what to relax."""
import os

import ml_metadata as mlmd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx_bsl.coders import example_coder

from components.masking import cleaning, policy, report
from components.masking.component import MaskingReport
from components.masking.ptransform import to_example
from components.validation import anomalies as anomalies_lib
from pipeline import configs, run_summary
from pipeline.pipeline import string_length_checks
from privrec.app import cli
from privrec.data import generator, schema

SCHEMA = configs.CURATED_SCHEMAS[policy.DEFAULT_POLICY]


def _row(i):
    """A masked example as MaskingExampleGen writes it under the default policy."""
    return {"timestamp": 1700000000 + 3600 * i, "user_id": f"u{9000000000000 + i % 7}".encode(),
            "birth_date": b"1980-1989", "city": [b"China", b"Europe", b"other"][i % 3],
            "gender": b"FM"[i % 2:i % 2 + 1], "order_amount": None if i % 4 else 120.5 - i,
            "query": b"wireless headphones" if i % 2 else b"",
            "recent_item_ids": b"p00001 p00002", "item_id": f"p{i:05d}".encode(),
            "event_type": b"purchase" if i % 4 == 0 else b"click",
            schema.COLD_START_ITEM: int(i % 5 == 0)}


def _anomalies(rows, schema_file=SCHEMA):
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    batch = decoder.DecodeBatch([to_example(dict(r)) for r in rows])
    stats = stats_impl.generate_statistics_in_memory(batch)
    return tfdv.validate_statistics(
        stats, tfdv.load_schema_text(schema_file),
        custom_validation_config=string_length_checks(configs.STRING_LENGTH_CHECKS))


def _message(rows):
    with pytest.raises(anomalies_lib.DataAnomaliesError) as failure:
        anomalies_lib.check({"train": _anomalies(rows)}, SCHEMA, configs.STRING_LENGTH_CHECKS)
    return str(failure.value)


def test_every_committed_policy_has_a_schema_of_exactly_its_released_features():
    for policy_file in (policy.DEFAULT_POLICY, policy.TINY_POLICY, policy.TINY_AUDIT_POLICY,
                        policy.MOVIELENS_POLICY):
        config = configs.local_config("/tmp/unused", masking_policy=policy_file)
        curated = tfdv.load_schema_text(config.schema_file)
        released = {rule.column for rule in policy.load(policy_file).columns.values()
                    if rule.action != "drop"}
        # ...plus the flag MaskingExampleGen adds for the Evaluator's cold-start slice.
        assert {f.name for f in curated.feature} == released | {schema.COLD_START_ITEM}, \
            policy_file
        assert not tfdv.get_feature(curated, "user_id").HasField("domain")  # never pseudonyms


def test_a_policy_without_a_curated_schema_is_refused_with_advice(tmp_path):
    config = configs.local_config(str(tmp_path), masking_policy=str(tmp_path / "mine.yaml"))
    with pytest.raises(ValueError, match="no curated schema .*schema_path"):
        config.schema_file
    assert configs.local_config(str(tmp_path), schema_path="s.pbtxt").schema_file.endswith(
        "s.pbtxt")


def test_masked_examples_that_fit_the_schema_pass():
    anomalies_lib.check({"train": _anomalies([_row(i) for i in range(40)])}, SCHEMA,
                        configs.STRING_LENGTH_CHECKS)


def test_unexpected_category_is_named_with_the_domain_to_relax():
    rows = [_row(i) for i in range(40)]
    rows[3]["event_type"] = b"add_to_cart"
    message = _message(rows)
    assert "feature 'event_type' (train split): Unexpected string values" in message
    assert "add_to_cart" in message
    assert f"fix the data, or relax {SCHEMA}: feature 'event_type', the values of its " \
           "string_domain" in message
    assert "stops before Transform" in message


def test_millisecond_timestamp_and_nan_amount_are_out_of_range():
    rows = [_row(i) for i in range(40)]
    rows[5]["timestamp"] = 1700000000000
    rows[8]["order_amount"] = float("nan")
    message = _message(rows)
    assert "feature 'timestamp'" in message and "Out-of-range values" in message
    assert "int_domain max" in message
    assert "feature 'order_amount'" in message and "float_domain disallow_nan" in message


def test_missing_feature_names_presence():
    rows = [_row(i) for i in range(40)]
    for r in rows[:10]:
        del r["city"]
    message = _message(rows)
    assert "feature 'city'" in message and "presence min_fraction" in message


def test_too_few_examples_names_the_dataset_constraint():
    message = _message([_row(i) for i in range(5)])
    assert "the data set (train split)" in message and "dataset_constraints" in message


def test_too_long_strings_break_the_average_length_checks():
    rows = [_row(i) for i in range(40)]
    for r in rows:
        r["query"] = b"lorem ipsum " * 30
    message = _message(rows)
    assert "feature 'query'" in message and "query average length above 200" in message
    assert f"relax the check of 'query' in {configs.STRING_LENGTH_CHECKS}" in message


def test_same_anomaly_in_both_splits_is_one_line_naming_both(tmp_path):
    rows = [_row(i) for i in range(40)]
    rows[0]["event_type"] = b"view"
    found = _anomalies(rows)
    for split in ("train", "eval"):
        os.makedirs(tmp_path / f"Split-{split}")
        with open(tmp_path / f"Split-{split}" / anomalies_lib.ANOMALIES_FILE, "wb") as f:
            f.write(found.SerializeToString())
    lines = anomalies_lib.describe(anomalies_lib.read(str(tmp_path), ["train", "eval"]),
                                   SCHEMA, "checks")
    assert len(lines) == 1 and "(eval, train split)" in lines[0]
    rows[1]["event_type"] = b"view"  # another share of unexpected values in eval
    lines = anomalies_lib.describe({"train": found, "eval": _anomalies(rows)}, SCHEMA, "checks")
    assert len(lines) == 1 and "[eval] " in lines[0] and "[train] " in lines[0]
    assert anomalies_lib.schema_field(anomalies_pb2.AnomalyInfo.INT_TYPE_SMALL_INT) == \
        "int_domain min"


def test_privrec_run_stops_before_transform_on_anomalous_data(tmp_path, capsys):
    """A real run: 'view' events pass masking, fail validation, and `privrec run` ends with the
    anomalies (no traceback to read through); a millisecond timestamp is cleaned before."""
    config = configs.local_config(str(tmp_path), data_dir=str(tmp_path / "data"))
    data = generator.generate(generator.SIZES["tiny"])
    rows = data["interactions"]
    for r in rows[::50]:
        r["event_type"] = "view"
    rows[7]["timestamp"] = str(int(rows[7]["timestamp"]) * 1000)
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    generator.write_csv(os.path.join(config.interactions_dir, "data.csv"), rows,
                        schema.INTERACTION_COLUMNS)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--work-dir", str(tmp_path), "--data-dir", config.data_dir,
                  "--dev-key", "--policy", policy.TINY_POLICY, "--train-steps", "2",
                  "--time-window", "{},{}".format(*generator.TIME_WINDOW)])
    message = str(exit_.value.code)
    assert message.startswith("privrec run: data validation: ")
    assert "feature 'event_type'" in message and "Unexpected string values" in message
    assert "view" in message and configs.CURATED_SCHEMAS[policy.TINY_POLICY] in message
    # The millisecond timestamp never reaches validation: cleaning removed and counted it.
    assert "feature 'timestamp'" not in message
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    masking = report.read(run_summary.latest(store, MaskingReport.TYPE_NAME).uri)
    assert masking["cleaning"]["rules"][cleaning.TIMESTAMP_RULE]["rows_removed"] == 1
    assert "failed: AnomalyGate" in capsys.readouterr().out
    for later in ("Transform", "Trainer"):
        assert not os.path.exists(os.path.join(config.pipeline_root, later)), later
