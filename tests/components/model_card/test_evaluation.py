"""components/model_card/evaluation.py: the candidate's metrics from an Evaluator output laid
out as TFMA writes it (metrics-*.tfrecord of MetricsForSlice)."""
import os

import pytest
import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as pb

from components.model_card import evaluation
from privrec.contract import EPSILON_KEY
from privrec.data import schema


def _slice(metrics, **keys):
    record = pb.MetricsForSlice()
    for column, value in keys.items():
        record.slice_key.single_slice_keys.add(column=column, int64_value=value)
    for (name, model, is_diff), value in metrics.items():
        entry = record.metric_keys_and_values.add()
        entry.key.name, entry.key.model_name, entry.key.is_diff = name, model, is_diff
        entry.value.double_value.value = value
    return record


def _write(uri, records):
    os.makedirs(uri)
    with tf.io.TFRecordWriter(os.path.join(uri, "metrics-00000-of-00001.tfrecord")) as writer:
        for record in records:
            writer.write(record.SerializeToString())


def test_overall_and_cold_start_metrics_of_the_candidate_only(tmp_path):
    uri = str(tmp_path / "evaluation")
    candidate = evaluation.CANDIDATE
    _write(uri, [
        _slice({("recall_at_10", candidate, False): 0.25, ("ndcg_at_5", candidate, False): 0.125,
                ("mrr", "", False): 0.0625, ("catalog_coverage", candidate, False): 0.5,
                (EPSILON_KEY, candidate, False): 3.0,
                ("recall_at_10", "baseline", False): 0.75,
                ("recall_at_10", candidate, True): -0.5,
                ("loss", candidate, False): 9.0, ("example_count", candidate, False): 40.0}),
        _slice({("recall_at_10", candidate, False): 0.0078125,
                (EPSILON_KEY, candidate, False): 3.0}, **{schema.COLD_START_ITEM: 1}),
        _slice({("recall_at_10", candidate, False): 0.375}, **{schema.COLD_START_ITEM: 0}),
        _slice({("recall_at_10", candidate, False): 0.875}, some_column=1),
    ])
    assert evaluation.candidate_metrics(uri) == {
        "recall_at_10": 0.25, "ndcg_at_5": 0.125, "mrr": 0.0625, "catalog_coverage": 0.5,
        EPSILON_KEY: 3.0, "cold_start_recall_at_10": 0.0078125}


def test_an_output_without_metrics_gives_nothing(tmp_path):
    uri = str(tmp_path / "evaluation")
    _write(uri, [])
    assert evaluation.candidate_metrics(uri) == {}
