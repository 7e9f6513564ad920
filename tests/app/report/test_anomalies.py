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
