"""What one request may cost the server: declared shapes are checked before anything is decoded,
the server caps requests in flight, and every bad request gets a TF Serving status naming what
was wrong (never UNKNOWN, never a traceback). Over a real gRPC channel on small SavedModels."""
import threading
import time

import grpc
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.python.data.experimental.ops import testing as tf_data_testing
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import client, server
from tests.serving.test_serving_api import MODEL, _request, base_path  # noqa: F401  (fixture)


class SlowEchoModel(tf.Module):
    """The echo model, sleeping `int(user_id[0])` microseconds first: a request that stays in
    flight as long as a test needs."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="recent_item_ids")])
    def serve(self, user_id, query, recent_item_ids):
        micros = tf.strings.to_number(tf.strings.join(["0", user_id[0]]), tf.int64)  # "": 0
        slept = tf.data.Dataset.range(1).apply(tf_data_testing.sleep(micros)).reduce(
            tf.constant(0, tf.int64), lambda total, x: total + x)
        words = tf.strings.split(tf.strings.join([query, " - -"])).to_tensor("")[:, :2]
        return {"item_ids": words,
                "scores": tf.cast(tf.strings.length(words) + tf.cast(slept, tf.int32),
                                  tf.float32)}


def save_slow_model(path: str) -> str:
    module = SlowEchoModel()
    tf.saved_model.save(module, path,
                        signatures={"serving_default": module.serve.get_concrete_function()})
    return path


@pytest.fixture(scope="module")
def slow_base_path(tmp_path_factory):
    base = tmp_path_factory.mktemp("slow") / MODEL
    save_slow_model(str(base / "1"))
    return str(base)


@pytest.fixture(scope="module")
def open_server(base_path):  # noqa: F811
    model_server = server.ModelServer(MODEL, base_path, port=0, max_batch_size=4)
    address, _ = model_server.start()
    yield model_server, address
    model_server.stop()


def _predict(address, request, timeout=20):
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=timeout)


def _status(address, request):
    try:
        _predict(address, request)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def _declaring(dims, values=(b"x",), dtype=types_pb2.DT_STRING):
    """A request whose 'query' declares `dims` but carries only `values`."""
    request = _request()
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend(values)
    request.inputs["query"].CopyFrom(proto)
    return request


def _peak_rss_reset() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # Linux: resets VmHWM to the current RSS
        f.write("5")


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("dims, code, named", [
    ([50_000_000], grpc.StatusCode.INVALID_ARGUMENT, "batch size 50000000"),
    ([1, 50_000_000], grpc.StatusCode.RESOURCE_EXHAUSTED, "'query' declares 50000000 elements"),
    ([10 ** 12], grpc.StatusCode.INVALID_ARGUMENT, "batch size 1000000000000"),
    ([1, 10 ** 12], grpc.StatusCode.RESOURCE_EXHAUSTED, "'query' declares"),
    ([1, 2 ** 62, 2 ** 62], grpc.StatusCode.RESOURCE_EXHAUSTED, "'query' declares"),
    ([1, -5], grpc.StatusCode.INVALID_ARGUMENT, "'query' declares a negative dimension"),
])
def test_a_huge_declared_shape_costs_neither_time_nor_memory(open_server, dims, code, named):
    """A tiny request declaring a huge tensor is refused before make_ndarray fills it in."""
    _, address = open_server
    _peak_rss_reset()
    before, start = _peak_rss_bytes(), time.monotonic()
    got_code, details = _status(address, _declaring(dims))
    seconds, grown = time.monotonic() - start, _peak_rss_bytes() - before
    assert (got_code, named in details) == (code, True), details
    assert seconds < 2.0 and grown < 100 << 20, (seconds, grown)


def test_a_long_value_repeated_by_the_declared_shape_is_over_the_byte_budget(open_server):
    _, address = open_server
    code, details = _status(address, _declaring([1, 100_000], [b"x" * 1000]))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "'query' would take" in details


@pytest.mark.parametrize("dtype", [types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT,
                                   types_pb2.DT_INVALID, 999])
def test_dtypes_no_input_can_carry_are_invalid_argument(open_server, dtype):
    _, address = open_server
    code, details = _status(address, _declaring([1], dtype=dtype))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'query'" in details


def test_malformed_tensor_content_is_invalid_argument(open_server):
    _, address = open_server
    request = _request()
    request.inputs["query"].CopyFrom(tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape={"dim": [{"size": 1}]}, tensor_content=b"abc"))
    code, details = _status(address, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'query'" in details


def test_mismatched_batch_sizes_name_the_inputs(open_server):
    _, address = open_server
    code, details = _status(address, _request(1, user_id=["a", "b"]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "'user_id' 2" in details and "'query' 1" in details and "concat" not in details


def test_an_unknown_signature_is_failed_precondition(open_server):
    _, address = open_server
    request = _request()
    request.model_spec.signature_name = "nope"
    code, details = _status(address, request)
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "'nope'" in details


def test_requests_past_the_in_flight_cap_are_resource_exhausted(slow_base_path):
    model_server = server.ModelServer(MODEL, slow_base_path, port=0, max_in_flight=1)
    address, _ = model_server.start()
    try:
        slow = threading.Thread(target=_predict, args=(address, _request(user_id=["1500000"])))
        slow.start()
        deadline = time.monotonic() + 10
        while model_server.requests_in_flight.count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        code, _ = _status(address, _request(user_id=["0"]))
        slow.join()
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _status(address, _request(user_id=["0"]))[0] == grpc.StatusCode.OK
    finally:
        model_server.stop()


def test_metrics_count_the_status_a_handler_set_without_raising(open_server):
    """The health service answers an unknown service NOT_FOUND by setting the code."""
    model_server, address = open_server
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError) as error:
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="no-such-model"), timeout=5)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    text = model_server.metrics.text().decode()
    assert 'method="Check",model="privrec",status="NOT_FOUND"' in text
    assert 'method="Check",model="privrec",status="OK"' not in text


def test_the_server_keeps_serving_after_all_of_it(open_server):
    _, address = open_server
    assert client.recommend(address, "u", "blue hat")[1][0][0] == "blue"
