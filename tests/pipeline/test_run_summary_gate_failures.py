"""pipeline/run_summary.py's gate_failures on a TFMA validation result written here (no pipeline
run): one record per failed threshold, for the run summary's lines and the run report's table."""
import tensorflow as tf
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import run_summary


def _validations(directory, failures):
    """A ValidationResult as the Evaluator writes it: <evaluation>/validations.tfrecord."""
    result = validation_result_pb2.ValidationResult(validation_ok=not failures)
    per_slice = result.metric_validations_per_slice.add()
    for name, model, is_diff, value, upper in failures:
        failure = per_slice.failures.add()
        failure.metric_key.name, failure.metric_key.model_name = name, model
        failure.metric_key.is_diff = is_diff
        failure.metric_value.double_value.value = value
        failure.metric_threshold.value_threshold.upper_bound.value = upper
    with tf.io.TFRecordWriter(str(directory / "validations.tfrecord")) as writer:
        writer.write(result.SerializeToString())
    return str(directory)


def test_each_failed_threshold_is_a_record_and_a_line(tmp_path):
    uri = _validations(tmp_path, [("privacy_epsilon", "", False, 3.8712, 1.0),
                                  ("recall_at_10", "candidate", True, -0.25, -0.1)])
    epsilon, recall = run_summary.gate_failures(uri)
    assert epsilon == run_summary.GateFailure(
        metric="privacy_epsilon", is_diff=False, model="candidate", value=3.8712,
        threshold="value_threshold { upper_bound { value: 1.0 } }")
    assert epsilon.line() == ("privacy_epsilon value = 3.871 (candidate); threshold: "
                              "value_threshold { upper_bound { value: 1.0 } }")
    assert recall.is_diff and recall.line().startswith(
        "recall_at_10 change vs. last blessed = -0.25 (candidate); threshold: ")


def test_no_failure_no_record(tmp_path):
    assert run_summary.gate_failures(_validations(tmp_path, [])) == []
