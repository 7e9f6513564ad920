"""privrec/app/report/anomalies.py: an ExampleAnomalies directory laid out as TFX writes it."""
import os

from tensorflow_metadata.proto.v0 import anomalies_pb2

from privrec.app.report import anomalies


def _write(uri, entry, proto):
    os.makedirs(os.path.join(uri, entry))
    with open(os.path.join(uri, entry, anomalies.FILE), "wb") as f:
        f.write(proto.SerializeToString())


def _split_anomalies():
    found = anomalies_pb2.Anomalies()
    info = found.anomaly_info["gender"]
    reason = info.reason.add()
    reason.type = anomalies_pb2.AnomalyInfo.ENUM_TYPE_UNEXPECTED_STRING_VALUES
    reason.short_description, reason.description = "Unexpected string values", " 'x' \n"
    info.reason.add(short_description="Second", description="two")
    found.anomaly_info["age"].short_description = "Out of range"
    found.anomaly_info["age"].description = "age < 0"
    found.dataset_anomaly_info.short_description = "Low num examples"
    found.dataset_anomaly_info.description = "  3 examples "
    return found


def _pair_anomalies():
    found = anomalies_pb2.Anomalies()
    info = found.drift_skew_info.add()
    info.path.step.extend(["city"])
    info.drift_measurements.add(type=anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY,
                                value=0.25, threshold=0.2)
    skew = found.drift_skew_info.add()
    skew.path.step.extend(["order", "amount"])
    skew.skew_measurements.add(
        type=anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE,
        value=0.01, threshold=0.05)
    return found


def test_reads_splits_and_split_pairs(tmp_path):
    uri = str(tmp_path / "ExampleAnomalies")
    _write(uri, "Split-train", _split_anomalies())
    _write(uri, "SplitPair-eval_train", _pair_anomalies())
    _write(uri, "Split-empty", anomalies_pb2.Anomalies())
    os.makedirs(os.path.join(uri, "Split-nofile"))
    _write(uri, "Other-eval", _split_anomalies())
    found = anomalies.read(uri)
    assert set(found) == {"train", "eval vs train", "empty"}
    assert found["empty"] == {"anomalies": [], "measurements": []}
    assert found["train"]["anomalies"] == [
        {"feature": "age", "what": "Out of range", "details": "age < 0"},
        {"feature": "gender", "what": "Unexpected string values", "details": "'x'"},
        {"feature": "gender", "what": "Second", "details": "two"},
        {"feature": "(the data set)", "what": "Low num examples", "details": "3 examples"}]
    assert found["train"]["measurements"] == []
    assert found["eval vs train"] == {"anomalies": [], "measurements": [
        {"feature": "city", "measure": "L-infinity distance", "value": 0.25, "threshold": 0.2},
        {"feature": "order.amount", "measure": "Jensen-Shannon divergence",
         "value": 0.01, "threshold": 0.05}]}


def test_a_missing_directory_reads_as_nothing(tmp_path):
    assert anomalies.read(str(tmp_path / "absent")) == {}


def test_split_names_may_hold_underscores():
    splits = ["train", "eval_recent", "eval_old"]
    assert anomalies.split_pair("eval_train") == ("eval", "train")  # one '_': one cut
    assert anomalies.split_pair("eval_recent_train", splits) == ("eval_recent", "train")
    assert anomalies.split_pair("train_eval_recent", splits) == ("train", "eval_recent")
    assert anomalies.split_pair("eval_recent_eval_old", splits) == ("eval_recent", "eval_old")
    # Drift: a split against its earlier self, told apart without the split names.
    assert anomalies.split_pair("eval_recent_eval_recent") == ("eval_recent", "eval_recent")
    assert anomalies.split_pair("eval_recent_train") is None  # nothing tells the cut
    assert anomalies.split_pair("nounderscore", splits) is None


def test_a_split_pair_with_underscores_is_named_by_the_runs_splits(tmp_path):
    uri = str(tmp_path / "ExampleAnomalies")
    _write(uri, "SplitPair-eval_recent_train", _pair_anomalies())
    _write(uri, "SplitPair-eval_recent_eval_recent", _pair_anomalies())
    assert set(anomalies.read(uri, ["train", "eval_recent"])) == {
        "eval_recent vs train", "eval_recent vs eval_recent"}
    assert set(anomalies.read(uri)) == {  # without the split names: shown as written
        "eval_recent_train (split pair)", "eval_recent vs eval_recent"}
