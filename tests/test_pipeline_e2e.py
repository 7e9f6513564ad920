"""The whole pipeline on the tiny generated data, then a real gRPC call to the pushed model."""
import csv
import gzip
import json
import os
import re

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from pipeline import run_summary
from serving import client, server

COMPONENTS = ("MaskingExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
              "Transform", "Trainer", "Evaluator", "Pusher")


def _raw_rows(config):
    with open(os.path.join(config.interactions_dir, "data.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _file_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":  # gzip (TFRecords): search the decompressed bytes too
        data += gzip.decompress(data)
    return data


def test_every_component_ran_and_left_artifacts(tiny_run):
    config, progress = tiny_run
    for component in COMPONENTS:
        assert os.listdir(os.path.join(config.pipeline_root, component)), component
        assert any(component in line and "finished" in line for line in progress), progress
    splits = os.listdir(os.path.join(config.pipeline_root, "MaskingExampleGen", "examples"))
    assert splits


def test_no_raw_pii_anywhere_under_the_pipeline_root_mlmd_or_serving_dir(tiny_run):
    config, _ = tiny_run
    rows = _raw_rows(config)
    needles = set()
    for r in rows:
        needles.update({r["name"], r["phone"], r["email"], r["address"], r["user_id"]})
        needles.update(re.findall(r"\d{17}[\dX]|\b62\d{14}\b", r["query"]))
    needles = {n.encode() for n in needles if n}
    assert any(r["phone"] in r["query"] for r in rows), "the tiny data must plant PII in queries"
    roots = [config.pipeline_root, config.serving_root]
    files = [os.path.join(d, f) for root in roots for d, _, fs in os.walk(root) for f in fs]
    files.append(config.metadata_path)
    assert len(files) > 20
    hits = [(path, needle) for path in files for data in [_file_bytes(path)]
            for needle in needles if needle in data]
    assert hits == []


def test_pushed_model_answers_over_grpc_with_catalog_items(tiny_run):
    config, _ = tiny_run
    with open(config.catalog_path, newline="") as f:
        catalog_ids = {r["item_id"] for r in csv.DictReader(f)}
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, version = model_server.start()
    try:
        served, items = client.recommend(address, "user000001", "send to 13812345678 headphones",
                                         ["p00001", "p00002"], config.model_name)
        assert served == version and len(items) == 10
        assert {item for item, _ in items} <= catalog_ids
        scores = [s for _, s in items]
        assert scores == sorted(scores, reverse=True)

        with grpc.insecure_channel(address) as channel:
            status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
                get_model_status_pb2.GetModelStatusRequest(
                    model_spec={"name": config.model_name}))
            assert status.model_version_status[0].version == version
            metadata = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(
                get_model_metadata_pb2.GetModelMetadataRequest(
                    model_spec={"name": config.model_name}, metadata_field=["signature_def"]))
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            metadata.metadata["signature_def"].Unpack(signature_map)
            assert set(signature_map.signature_def["serving_default"].inputs) == {
                "user_id", "query", "recent_item_ids"}

            request = predict_pb2.PredictRequest(model_spec={"name": config.model_name})
            request.inputs["query"].CopyFrom(tf.make_tensor_proto(["shoes"]))
            with pytest.raises(grpc.RpcError) as missing:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request)
            assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "recent_item_ids" in missing.value.details()
            request.model_spec.name = "nope"
            with pytest.raises(grpc.RpcError) as unknown:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request)
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        model_server.stop()


def test_summary_has_metrics_blessing_push_and_computed_epsilon(tiny_run):
    config, _ = tiny_run
    summary = run_summary.read(config)
    assert set(summary.metrics) == {"recall_at_10", "recall_at_50"}
    assert 0.0 <= summary.metrics["recall_at_10"] <= summary.metrics["recall_at_50"] <= 1.0
    privacy = summary.privacy
    assert 0 < privacy["epsilon"] < float("inf")
    assert privacy["steps"] == 40 and privacy["noise_multiplier"] > 0
    assert "RDP" in privacy["accountant"] and "Poisson" in privacy["sampling_assumption"]
    assert summary.blessed == summary.pushed
    if summary.pushed:
        pushed = os.path.join(config.push_dir, summary.pushed_version)
        with open(os.path.join(pushed, "assets.extra", "privacy.json")) as f:
            assert json.load(f)["epsilon"] == privacy["epsilon"]
    assert any(line.startswith("privacy") for line in summary.lines())


def test_pushed_graph_has_only_ops_tf_serving_has(tiny_run):
    from serving import graph_ops
    config, _ = tiny_run
    version = server.list_versions(config.push_dir)[-1]
    model_dir = os.path.join(config.push_dir, str(version))
    ops = graph_ops.saved_model_ops(model_dir)
    assert "WordpieceTokenizeWithOffsets" in ops and "StaticRegexReplace" in ops  # tokenise, scrub
    assert graph_ops.ops_tf_serving_lacks(model_dir) == set()


def test_serving_masks_the_request_like_ingestion(tiny_run):
    """A phone number or email typed into the query is scrubbed inside the serving graph."""
    config, _ = tiny_run
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, _ = model_server.start()
    try:
        ask = lambda q: client.recommend(address, "", q, ["p00003"], config.model_name)[1]
        assert ask("send to 13812345678 kettle") == ask("send to [PHONE] kettle")
        assert ask("mail a.b@example.com kettle") == ask("mail [EMAIL] kettle")
        assert ask("send to 13812345678 kettle") != ask("kettle")  # the placeholder is seen
    finally:
        model_server.stop()
