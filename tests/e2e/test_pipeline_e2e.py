"""The whole pipeline on the tiny generated data, then a real gRPC call to the pushed model."""
import csv
import gzip
import json
import os
import re
import subprocess
import sys
import zipfile

import grpc
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from components.masking import pseudonymizer
from pipeline import run_summary
from privrec.data import generator
from serving import client, server
from privrec import privacy as privacy_lib
from trainer import export
from tests.support import canaries
from tests.support.needles import found
from tests.conftest import run_temp_dir

from tests.support.paths import ROOT

COMPONENTS = ("MaskingExampleGen", "StatisticsGen", "DataInventory", "ImportSchemaGen",
              "ExampleValidator",
              "AnomalyGate",
              "Transform", "Trainer", "Evaluator", "Pusher")


def _raw_rows(config):
    with open(os.path.join(config.interactions_dir, "data.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _file_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":  # gzip (TFRecords): search the decompressed bytes too
        data += gzip.decompress(data)
    if zipfile.is_zipfile(path):  # the Keras model (.keras): every member, decompressed
        with zipfile.ZipFile(path) as archive:
            data += b"".join(archive.read(name) for name in archive.namelist())
    return data


def test_every_component_ran_and_left_artifacts(tiny_run):
    config, progress, _ = tiny_run
    for component in COMPONENTS:
        assert os.listdir(os.path.join(config.pipeline_root, component)), component
        assert any(component in line and "finished" in line for line in progress), progress
    splits = os.listdir(os.path.join(config.pipeline_root, "MaskingExampleGen", "examples"))
    assert splits
    # Transform's own TFDV statistics are off by default (PipelineConfig.transform_statistics).
    transform_stats = [os.path.join(top, name) for output in (
        "pre_transform_stats", "post_transform_stats")
        for top, _, names in os.walk(os.path.join(config.pipeline_root, "Transform", output))
        for name in names]
    assert not config.transform_statistics and transform_stats == []


def test_trainer_encodes_each_distinct_query_once_before_training(tiny_run):
    """The frozen MiniLM runs once per distinct query (trainer/query_vectors.py), not per step."""
    config, _, _ = tiny_run
    training = run_summary.read(config).training
    assert 0 < training["query_vectors_computed_beforehand"] < training["training_examples"]


def test_no_raw_pii_or_canary_anywhere_under_the_pipeline_root_mlmd_logs_or_serving_dir(
        tiny_run):
    """Nor in the run's temporary files (tempfile's directory, which Beam and TFX write to)."""
    config, progress, log_path = tiny_run
    rows = _raw_rows(config)
    needles = set(canaries.NEEDLES)
    for r in rows:
        needles.update({r["name"], r["phone"], r["email"], r["address"], r["user_id"]})
        needles.update(re.findall(r"\d{17}[\dX]|\b62\d{14}\b", r["query"]))
    needles = {n.encode() for n in needles if n}
    assert any(r["phone"] in r["query"] for r in rows), "the tiny data must plant PII in queries"
    roots = [config.pipeline_root, config.serving_root, run_temp_dir(log_path)]
    files = [os.path.join(d, f) for root in roots for d, _, fs in os.walk(root) for f in fs]
    files += [config.metadata_path, log_path]
    assert len(files) > 20 and os.path.getsize(log_path) > 1000
    assert any("tfevents" in f for f in files)  # TensorBoard logs are searched too
    hits = [(path, needle) for path in files for needle in found(_file_bytes(path), needles)]
    hits += [("progress", n) for n in needles if n in "\n".join(progress).encode()]
    assert hits == []


def test_local_beam_stages_leave_no_package_of_tfx_in_the_temp_dir(tiny_run):
    """On the DirectRunner TFX's Beam executors use the installed TFX (privrec/
    beam_dependencies.py): no ~49 MB sdist of TFX per Beam component run is built or staged in
    the temporary directory (and never removed)."""
    config, progress, log_path = tiny_run
    beam_stages = ("MaskingExampleGen", "StatisticsGen", "ExampleValidator", "Transform",
                   "Evaluator")
    assert all(any(stage in line and "finished" in line for line in progress)
               for stage in beam_stages), progress
    temp_files = [os.path.join(d, f) for d, _, fs in os.walk(run_temp_dir(log_path)) for f in fs]
    assert temp_files  # the run did use the temporary directory
    assert [f for f in temp_files if "tfx_ephemeral" in f
            or os.path.basename(f) in ("setup.py", "extra_packages.txt")] == []


def _examples(config, split):
    split_dir = os.path.join(_latest_uri(config, "MaskingExampleGen", "examples"),
                             f"Split-{split}")
    files = [os.path.join(split_dir, f) for f in os.listdir(split_dir)]
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _latest_uri(config, component, output):
    root = os.path.join(config.pipeline_root, component, output)
    return os.path.join(root, max(os.listdir(root), key=int))


def _value(example, name):
    feature = example.features.feature[name]
    values = feature.bytes_list.value or feature.int64_list.value or feature.float_list.value
    return values[0] if values else None


def test_canary_rows_are_masked_or_suppressed_as_the_policy_says(tiny_run, pipeline_key):
    config, *_ = tiny_run
    key = pseudonymizer.PseudonymKey(pseudonymizer._parse(pipeline_key, "test"), "", False)
    pseudonym = lambda raw: pseudonymizer.pseudonymize(tf.constant([raw]), key).numpy()[0]
    examples = _examples(config, "train") + _examples(config, "eval")
    user_a = [e for e in examples if _value(e, "user_id") == pseudonym(canaries.A["user_id"])]
    user_b = [e for e in examples if _value(e, "user_id") == pseudonym(canaries.B["user_id"])]
    assert len(user_a) == len(canaries.A_QUERIES) and len(user_b) == len(canaries.B_QUERIES)
    # B is alone in its class: its rows are released with every quasi-identifier suppressed
    # (cells, not rows: no user's rows may depend on whether others share their class).
    assert {(_value(e, "birth_date"), _value(e, "city")) for e in user_b} == {(b"*", b"*")}
    assert not any("卡纳".encode() in _value(e, "query") for e in user_b)  # its name, scrubbed
    queries = " ".join(_value(e, "query").decode() for e in user_a)
    for placeholder in ("[PHONE]", "[EMAIL]", "[ID_NUMBER]", "[BANK_CARD]", "[IP]", "[URL]",
                        "[NAME]", "[ADDRESS]"):
        assert placeholder in queries, (placeholder, queries)
    assert {_value(e, "birth_date") for e in user_a} == {b"1980-1999"}
    assert {_value(e, "city") for e in user_a} == {b"China"}
    assert all(_value(e, "timestamp") % 3600 == 0 for e in examples)
    assert {_value(e, "gender") for e in examples} == {b"F", b"M"}
    assert not set(examples[0].features.feature) & {"name", "phone", "email", "address"}


def test_masking_report_counts_detections_k_anonymity_and_epsilon(tiny_run):
    from components.masking import policy, report
    config, *_ = tiny_run
    report_dir = _latest_uri(config, "MaskingExampleGen", "masking_report")
    masking = report.read(report_dir)
    assert os.path.getsize(os.path.join(report_dir, report.HTML_FILE)) > 500
    rows = _raw_rows(config) + list(csv.DictReader(open(
        os.path.join(config.interactions_dir, "canary.csv"), newline="")))
    assert masking["rows_in"] == len(rows)
    assert masking["rows_out"] == sum(masking["rows_out_per_split"].values()) == \
        len(_examples(config, "train")) + len(_examples(config, "eval"))
    k = masking["k_anonymity"]
    assert masking["rows_suppressed"] == 0 and masking["rows_out"] == masking["rows_in"]
    assert k["rows_with_suppressed_quasi_identifiers"] >= len(canaries.B_QUERIES)
    assert k["suppressed_cells"] == 2 * k["rows_with_suppressed_quasi_identifiers"]
    assert k["users_with_suppressed_quasi_identifiers"] >= 1
    assert k["min_k_released"] >= k["k_min"] == 3
    assert masking["time_split"]["window"] == list(generator.TIME_WINDOW)
    assert masking["time_split"]["rows_before_window"] == \
        masking["time_split"]["rows_after_window"] == 0
    assert not k["budget_exceeded"] and k["l_diversity"]["gender"]["min_l"] >= 1
    query = masking["columns"]["query"]["placeholders_inserted"]
    assert all(query[p] > 0 for p in ("[PHONE]", "[EMAIL]", "[ID_NUMBER]", "[BANK_CARD]",
                                      "[IP]", "[URL]", "[NAME]", "[ADDRESS]")), query
    tiny = policy.load(policy.TINY_POLICY)
    assert masking["policy_version"] == tiny.version and masking["policy_sha256"] == tiny.sha256
    assert masking["columns"]["gender"]["epsilon"] == 2.0
    assert masking["columns"]["order_amount"]["epsilon"] == 1.0
    assert masking["columns"]["name"]["action"] == "drop"
    summary = run_summary.read(config)
    assert summary.masking["pseudonym_key_fingerprint"] == masking["pseudonym_key_fingerprint"]
    assert any(line.startswith("masking") for line in summary.lines())


def test_pushed_model_answers_over_grpc_with_catalog_items(tiny_run):
    config, *_ = tiny_run
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
    config, *_ = tiny_run
    summary = run_summary.read(config)
    metrics = summary.metrics
    overall = {"recall_at_10", "recall_at_50", "recall_at_100", "ndcg_at_10", "ndcg_at_50",
               "ndcg_at_100", "mrr", "catalog_coverage"}
    # The tiny data's eval items were all seen in training: no cold-start slice (MovieLens has
    # one: tests/e2e/test_movielens_pipeline.py).
    assert not any(_value(e, "cold_start_item") for e in _examples(config, "eval"))
    assert set(metrics) == overall | {"privacy_epsilon"}
    assert 0.0 <= metrics["recall_at_10"] <= metrics["recall_at_50"] <= \
        metrics["recall_at_100"] <= 1.0
    assert 0.0 < metrics["catalog_coverage"] <= 1.0
    # One relevant item: NDCG@K <= Recall@K and grows with K; MRR counts every rank.
    assert 0.0 < metrics["ndcg_at_10"] <= metrics["ndcg_at_50"] <= metrics["recall_at_50"]
    assert metrics["ndcg_at_10"] <= metrics["recall_at_10"]
    assert 0.0 < metrics["mrr"] <= 1.0
    privacy = summary.privacy
    assert 0 < privacy["epsilon"] < float("inf")
    assert abs(summary.metrics["privacy_epsilon"] - privacy["epsilon"]) < 1e-5 * privacy["epsilon"]
    assert privacy["steps"] == 40 and privacy["noise_multiplier"] > 0
    assert "RDP" in privacy["accountant"] and "Poisson" in privacy["sampling_assumption"]
    # User-level: δ the default (1e-6 at this size), and ε is the accountant's for the users
    # sampled per step, composed with the DP count of users that set q.
    assert privacy["privacy_unit"].startswith("user") and privacy["delta"] == 1e-6
    assert privacy["epsilon"] == pytest.approx(privacy_lib.account(
        privacy["num_users"], privacy["users_per_step"], 40, privacy["noise_multiplier"],
        privacy["l2_norm_clip"], privacy["max_examples_per_user"], 1,
        user_count_noise_multiplier=privacy["user_count_noise_multiplier"]).epsilon)
    # What travels with the model holds no exact count: num_users is the DP count (the exact
    # one stays in training.json, under the pipeline root), num_examples is not there.
    assert "num_examples" not in privacy and privacy["user_count_noise_multiplier"] > 0
    assert summary.training["training_users"] > 0
    assert privacy["randomness"].startswith("OS entropy")
    assert summary.blessed == summary.pushed
    if summary.pushed:
        pushed = os.path.join(config.push_dir, summary.pushed_version)
        with open(os.path.join(pushed, "assets.extra", "privacy.json")) as f:
            assert json.load(f)["epsilon"] == privacy["epsilon"]
    assert any(line.startswith("privacy") for line in summary.lines())
    # The DP noise diagnostic: σ·√D / users per step, D the saved model's trainable values.
    model = export.load_keras(os.path.join(_latest_uri(config, "Trainer", "model"),
                                           "Format-Serving"))
    values = sum(int(tf.size(v)) for v in model.trainable_variables)
    assert summary.training["noise_norm_over_clip"] == pytest.approx(
        privacy["noise_multiplier"] * values ** 0.5 / privacy["users_per_step"])
    assert any(line.startswith("DP noise") and "mostly noise" in line for line in summary.lines())


def test_cold_start_slice_is_the_eval_items_never_seen_in_training(tiny_run):
    """ExampleGen flags each example whose item has no training interaction; the Evaluator
    slices on the flag."""
    config, *_ = tiny_run
    train, evaluation = _examples(config, "train"), _examples(config, "eval")
    trained = {_value(e, "item_id") for e in train}
    assert {_value(e, "cold_start_item") for e in train} == {0}
    flags = [_value(e, "cold_start_item") for e in evaluation]
    assert flags == [int(_value(e, "item_id") not in trained) for e in evaluation]
    evaluated = tfma.load_metrics(_latest_uri(config, "Evaluator", "evaluation"))
    counts = {tuple((k.column, k.int64_value) for k in s.slice_key.single_slice_keys):
              next(v.value.double_value.value for v in s.metric_keys_and_values
                   if v.key.name == "example_count" and v.key.model_name in ("", "candidate"))
              for s in evaluated}
    assert counts == {(): len(flags), (("cold_start_item", 0),): len(flags) - sum(flags),
                      **({(("cold_start_item", 1),): sum(flags)} if sum(flags) else {})}


def test_catalog_coverage_is_the_share_of_items_in_some_served_top_10(tiny_run):
    config, *_ = tiny_run
    summary = run_summary.read(config)
    model = tf.saved_model.load(os.path.join(config.push_dir, summary.pushed_version))
    evaluation = [e.SerializeToString() for e in _examples(config, "eval")]
    outputs = model.signatures["eval"](examples=tf.constant(evaluation))
    top = outputs["top_item_positions"].numpy()
    catalog_size = outputs["catalog_size"].numpy().ravel()[0]
    assert summary.metrics["catalog_coverage"] == pytest.approx(
        len(set(top.ravel().tolist())) / catalog_size)
    assert 10 / catalog_size < summary.metrics["catalog_coverage"] < 1


def test_eval_signature_ranks_the_true_item_over_the_whole_catalog(tiny_run):
    """The Evaluator's inputs: the item served first ranks 1, the fifth 5, an unknown one 0."""
    config, *_ = tiny_run
    model = tf.saved_model.load(os.path.join(config.push_dir,
                                             str(max(server.list_versions(config.push_dir)))))
    served = model.signatures["serving_default"](
        user_id=tf.constant([""]), query=tf.constant(["wireless headphones"]),
        recent_item_ids=tf.constant([""]))["item_ids"].numpy()[0]

    def example(item_id):
        return tf.train.Example(features=tf.train.Features(feature={
            name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
            for name, value in (("query", b"wireless headphones"), ("recent_item_ids", b""),
                                ("item_id", item_id))})).SerializeToString()

    outputs = model.signatures["eval"](examples=tf.constant(
        [example(served[0]), example(served[4]), example(b"no-such-item")]))
    assert outputs["true_item_rank"].numpy().ravel().tolist() == [1.0, 5.0, 0.0]
    assert outputs["hit_at_10"].numpy().ravel().tolist() == [1.0, 1.0, 0.0]
    # Coverage inputs: the served top 10 as catalog positions, and the catalog size.
    from trainer.catalog import Catalog
    catalog_ids = Catalog.load(config.catalog_path).item_ids
    top = outputs["top_item_positions"].numpy()
    assert [catalog_ids[p].encode() for p in top[0]] == served.tolist()
    assert outputs["catalog_size"].numpy().ravel().tolist() == [len(catalog_ids)] * 3
    # Softmax loss over the whole catalog (the membership inference audit's input).
    loss = outputs["true_item_loss"].numpy().ravel()
    assert 0 < loss[0] < loss[1] and loss[2] == 0.0


def test_pushed_model_has_a_model_card_read_from_the_run(tiny_run):
    """The Pusher writes model_card/ (JSON + HTML) into the pushed version: its numbers are
    those of the run's artifacts (privacy.json, masking report, Evaluator metrics)."""
    from components.model_card import card
    config, *_ = tiny_run
    summary = run_summary.read(config)
    assert summary.pushed
    pushed = os.path.join(config.push_dir, summary.pushed_version)
    # Pushed atomically: staged under a hidden name with its card, renamed; nothing left over.
    assert [name for name in os.listdir(config.push_dir) if name.startswith(".")] == []
    # The released card (next to the pushed model): DP outputs and public facts only.
    released = card.read(pushed)
    assert "evaluation" not in released and set(released["data"]) == {"source", "span"}
    assert set(released["masking"]["k_anonymity"]) <= {"quasi_identifiers", "k_min"}
    assert "placeholders_inserted" not in released["masking"]
    assert "num_examples" not in released["differential_privacy"]
    assert "covers the trained weights" in released["differential_privacy"]["epsilon_covers"]
    assert not any("Example-level DP" in limit for limit in released["limits"])
    # The internal card (PushedModel artifact, under the pipeline root) has the exact figures.
    model_card = card.read(_latest_uri(config, "Pusher", "pushed_model"))
    dp = model_card["differential_privacy"]
    for key in ("epsilon", "delta", "noise_multiplier", "l2_norm_clip", "steps", "num_users",
                "users_per_step", "max_examples_per_user", "accountant",
                "sampling_assumption", "privacy_unit", "example_level"):
        assert dp[key] == summary.privacy[key], key
        assert released["differential_privacy"][key] == summary.privacy[key], key
    assert model_card["evaluation"] == pytest.approx(summary.metrics)
    masking = model_card["masking"]
    assert masking["policy_version"] == summary.masking["policy_version"]
    assert masking["placeholders_inserted"]["[PHONE]"] == sum(
        c.get("placeholders_inserted", {}).get("[PHONE]", 0)
        for c in summary.masking["columns"].values()) > 0
    assert masking["k_anonymity"]["min_k_released"] == \
        summary.masking["k_anonymity"]["min_k_released"]
    assert masking["local_dp_columns"]["gender"]["epsilon"] == 2.0
    assert model_card["data"]["rows_out"] == summary.masking["rows_out"]
    assert model_card["data"]["source"] == config.data_dir
    assert model_card["model"]["version"] == summary.pushed_version
    # The pipeline's privacy ledger (outside span mode the data is span 0): one run so far, so
    # the data's ε is the model's.
    ledger = model_card["privacy_ledger"]
    assert ledger["trained_spans"] == [0] and ledger["dp_runs_composed"] == 1
    assert ledger["max_epsilon_of_trained_spans"] == pytest.approx(dp["epsilon"])
    page = open(os.path.join(pushed, card.DIRECTORY, card.HTML_FILE), encoding="utf-8").read()
    assert f"{dp['epsilon']:.6g}" in page and "Intended use" in page


def test_pushed_graph_has_only_ops_tf_serving_has(tiny_run):
    from serving import graph_ops
    config, *_ = tiny_run
    version = server.list_versions(config.push_dir)[-1]
    model_dir = os.path.join(config.push_dir, str(version))
    ops = graph_ops.saved_model_ops(model_dir)
    assert "WordpieceTokenizeWithOffsets" in ops and "StaticRegexReplace" in ops  # tokenise, scrub
    assert graph_ops.ops_tf_serving_lacks(model_dir) == set()


def test_serving_masks_the_request_like_ingestion(tiny_run):
    """A phone number or email typed into the query is scrubbed inside the serving graph."""
    config, *_ = tiny_run
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, _ = model_server.start()
    try:
        ask = lambda q: client.recommend(address, "", q, ["p00003"], config.model_name)[1]
        assert ask("send to 13812345678 kettle") == ask("send to [PHONE] kettle")
        assert ask("mail a.b@example.com kettle") == ask("mail [EMAIL] kettle")
        assert ask("send to 13812345678 kettle") != ask("kettle")  # the placeholder is seen
    finally:
        model_server.stop()


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_serving_latency_bench_prints_both_paths_and_writes_json(tiny_run, tmp_path):
    """bench/serving_latency.py on the pushed tiny model (short): in-process and gRPC rows at
    1 and 8 clients, latencies and QPS as numbers; targets are reported, not asserted."""
    config, *_ = tiny_run
    version = max(server.list_versions(config.push_dir))
    out = tmp_path / "latency.json"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "serving_latency.py"), "--model-dir",
         os.path.join(config.push_dir, str(version)), "--requests", "40", "--repeats", "1",
         "--json", str(out)], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "p50 vs in-proc" in result.stdout and "targets:" in result.stdout
    results = json.loads(out.read_text())["results"]
    assert set(results) == {f"{mode}@{clients}" for clients in (1, 8) for mode in (
        "in-process", "gRPC", "gRPC+batch", "gRPC no-op")}
    assert "Python gRPC with no model costs" in result.stdout
    assert 0 < results["gRPC no-op@1"]["share_of_in_process_p50"]
    for row in results.values():
        assert row["requests"] == 40 and 0 < row["p50_ms"] <= row["p99_ms"] and row["qps"] > 0
