"""The gRPC server's contract with clients, over a real channel, on a small real SavedModel
with privrec's serving signature (fast: no pipeline run). Bad requests get TF Serving's status
codes with a message naming the input, and the server keeps serving good ones.
"""
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from serving import auth, client, server
from tests.support import echo_model, tls_certs
from tests.support.echo_model import MODEL

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def open_server(base_path):
    model_server = server.ModelServer(MODEL, base_path, port=0, max_batch_size=4,
                                      max_message_bytes=64 * 1024)
    address, version = model_server.start()
    assert version == 1
    yield address
    model_server.stop()


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
    got_code, details = echo_model.status(open_server, echo_model.request(batch, **change))
    assert got_code == code and named in details
    assert client.recommend(open_server, "u", "blue hat")[1][0][0] == "blue"


@pytest.mark.parametrize("spec, named", [({"name": "other"}, "other"), ({"version": 7}, "7")])
def test_unknown_model_or_version_is_not_found(open_server, spec, named):
    request = echo_model.request()
    if "name" in spec:
        request.model_spec.name = spec["name"]
    else:
        request.model_spec.version.value = spec["version"]
    code, details = echo_model.status(open_server, request)
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
        request = echo_model.request()
        assert echo_model.status(address, request)[0] == grpc.StatusCode.UNAUTHENTICATED
        assert echo_model.status(address, request, [("authorization", "Basic abc")])[0] \
            == grpc.StatusCode.UNAUTHENTICATED
        assert echo_model.status(address, request, [("authorization", "Bearer wrong")])[0] \
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
