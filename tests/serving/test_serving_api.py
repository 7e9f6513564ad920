"""The gRPC server's contract with clients, over a real channel, on a small real SavedModel
with privrec's serving signature (fast: no pipeline run). Bad requests get TF Serving's status
codes with a message naming the input, and the server keeps serving good ones.
"""
import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import auth, client, server
from tests.support import tls_certs

MODEL = "privrec"
TOKEN = "s3cret-token-for-tests"


class _EchoModel(tf.Module):
    """Top-2 'items' are the query's first two words, scores their lengths."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="recent_item_ids")])
    def serve(self, user_id, query, recent_item_ids):
        words = tf.strings.split(tf.strings.join([query, " - -"])).to_tensor("")[:, :2]
        return {"item_ids": words, "scores": tf.cast(tf.strings.length(words), tf.float32)}


@pytest.fixture(scope="module")
def base_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving") / MODEL
    module = _EchoModel()
    tf.saved_model.save(module, str(path / "1"),
                        signatures={"serving_default": module.serve.get_concrete_function()})
    return str(path)


@pytest.fixture(scope="module")
def open_server(base_path):
    model_server = server.ModelServer(MODEL, base_path, port=0, max_batch_size=4,
                                      max_message_bytes=64 * 1024)
    address, version = model_server.start()
    assert version == 1
    yield address
    model_server.stop()


def _request(batch=1, **overrides):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    inputs = {"user_id": ["u"] * batch, "query": ["red shoes"] * batch,
              "recent_item_ids": [""] * batch}
    inputs.update(overrides)
    for name, value in inputs.items():
        if value is not None:
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def _predict(address, request, metadata=None):
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=10, metadata=metadata)


def _status(address, request, metadata=None):
    with pytest.raises(grpc.RpcError) as error:
        _predict(address, request, metadata)
    return error.value.code(), error.value.details()


def test_good_request_is_answered(open_server):
    version, items = client.recommend(open_server, "u", "red shoes")
    assert version == 1 and [item for item, _ in items] == ["red", "shoes"]
    assert [score for _, score in items] == [3.0, 5.0]


@pytest.mark.parametrize("change, code, named", [
    ({"query": None}, grpc.StatusCode.INVALID_ARGUMENT, "query"),
    ({"query": np.array([1, 2], np.int64)}, grpc.StatusCode.INVALID_ARGUMENT, "query"),
    ({"extra": ["x"]}, grpc.StatusCode.INVALID_ARGUMENT, "extra"),
    ({"batch": 5}, grpc.StatusCode.INVALID_ARGUMENT, "batch size 5"),
    ({"query": ["x" * 100_000]}, grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
])
def test_bad_request_gets_the_status_and_the_server_keeps_serving(open_server, change, code,
                                                                  named):
    batch = change.pop("batch", 1)
    got_code, details = _status(open_server, _request(batch, **change))
    assert got_code == code and named in details
    assert client.recommend(open_server, "u", "blue hat")[1][0][0] == "blue"


@pytest.mark.parametrize("spec, named", [({"name": "other"}, "other"), ({"version": 7}, "7")])
def test_unknown_model_or_version_is_not_found(open_server, spec, named):
    request = _request()
    if "name" in spec:
        request.model_spec.name = spec["name"]
    else:
        request.model_spec.version.value = spec["version"]
    code, details = _status(open_server, request)
    assert code == grpc.StatusCode.NOT_FOUND and named in details


def test_health_service_reports_serving_per_model_and_not_serving_without_a_version(
        open_server, tmp_path):
    with grpc.insecure_channel(open_server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", MODEL):
            assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status \
                == health_pb2.HealthCheckResponse.SERVING
    empty = server.ModelServer(MODEL, str(tmp_path / "nothing"), port=0)
    address, version = empty.start()
    try:
        assert version is None
        with grpc.insecure_channel(address) as channel:
            assert health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=MODEL), timeout=5).status \
                == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        empty.stop()


def test_bearer_token_auth(base_path, tmp_path):
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text(f"# serving clients\n{TOKEN}\n")
    model_server = server.ModelServer(MODEL, base_path, port=0,
                                      tokens=auth.read_tokens(str(tokens_file)))
    address, _ = model_server.start()
    try:
        assert _status(address, _request())[0] == grpc.StatusCode.UNAUTHENTICATED
        assert _status(address, _request(), [("authorization", "Basic abc")])[0] \
            == grpc.StatusCode.UNAUTHENTICATED
        assert _status(address, _request(), [("authorization", "Bearer wrong")])[0] \
            == grpc.StatusCode.PERMISSION_DENIED
        assert client.recommend(address, "u", "red shoes", token=TOKEN)[0] == 1
        with grpc.insecure_channel(address) as channel:  # health probes need no token
            assert health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5).status \
                == health_pb2.HealthCheckResponse.SERVING
    finally:
        model_server.stop()


def test_token_file_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="one token per line"):
        auth.read_tokens(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="holds no token"):
        auth.read_tokens(str(tmp_path / "empty.txt"))


def test_tls_and_mutual_tls(base_path, tmp_path):
    pem = tls_certs.write(str(tmp_path))
    tls = server.TlsFiles(pem["server"], pem["server_key"], client_ca=pem["ca"])
    model_server = server.ModelServer(MODEL, base_path, port=0, tls=tls)
    address, _ = model_server.start()
    try:
        client_cert = (pem["client"], pem["client_key"])
        assert client.recommend(address, "u", "red shoes", tls_ca=pem["ca"],
                                tls_client=client_cert)[0] == 1
        for wrong in ({"tls_ca": pem["ca"]},                                  # no client cert
                      {"tls_ca": pem["other_ca"], "tls_client": client_cert},  # untrusted server
                      {}):                                                     # plaintext
            with pytest.raises(grpc.RpcError) as error:
                client.recommend(address, "u", "red shoes", timeout=5, **wrong)
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE, wrong
        assert client.recommend(address, "u", "blue hat", tls_ca=pem["ca"],
                                tls_client=client_cert)[1][0][0] == "blue"
    finally:
        model_server.stop()
