"""TF Serving's REST API and the Prometheus metrics, over real HTTP, on a small real SavedModel."""
import json

import pytest

from serving import server
from tests.support import prometheus_text
from tests.support.echo_model import MODEL
from tests.support.serving_tools import http


@pytest.fixture(scope="module")
def servers(base_path):
    model_server = server.ModelServer(MODEL, base_path, port=0, rest_port=0, max_batch_size=4,
                                      max_message_bytes=2048)
    model_server.start()
    yield model_server
    model_server.stop()


def _url(servers, path):
    return f"http://{servers.rest.address}{path}"


def test_predict_row_and_columnar_formats(servers):
    status, body = http(_url(servers, f"/v1/models/{MODEL}:predict"), {"instances": [
        {"user_id": "u", "query": "red shoes", "recent_item_ids": ""},
        {"user_id": "v", "query": "blue hat", "recent_item_ids": "p1"}]})
    assert status == 200
    assert json.loads(body)["predictions"] == [
        {"item_ids": ["red", "shoes"], "scores": [3.0, 5.0]},
        {"item_ids": ["blue", "hat"], "scores": [4.0, 3.0]}]
    status, body = http(_url(servers, f"/v1/models/{MODEL}/versions/1:predict"), {
        "inputs": {"user_id": ["u"], "query": ["red shoes"], "recent_item_ids": [""]}})
    assert status == 200 and json.loads(body)["outputs"]["item_ids"] == [["red", "shoes"]]


def test_model_status(servers):
    status, body = http(_url(servers, f"/v1/models/{MODEL}"))
    assert status == 200 and json.loads(body) == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]}


@pytest.mark.parametrize("path, body, code, named", [
    (f"/v1/models/{MODEL}:predict", {"instances": [{"user_id": "u", "recent_item_ids": ""}]},
     400, "query"),
    (f"/v1/models/{MODEL}:predict", {"instances": [{"user_id": "u", "query": 3,
                                                     "recent_item_ids": ""}]}, 400, "query"),
    (f"/v1/models/{MODEL}:predict", {"instances": [
        {"user_id": "u", "query": "q", "recent_item_ids": ""}] * 5}, 400, "batch size 5"),
    (f"/v1/models/{MODEL}:predict", b"{not json", 400, "Expecting property name"),
    (f"/v1/models/{MODEL}:predict", {"instances": [], "inputs": {}}, 400, "exactly one of"),
    (f"/v1/models/{MODEL}:predict", {"inputs": {"query": ["x" * 3000]}}, 413, "2048"),
    ("/v1/models/other:predict", {"inputs": {}}, 404, "other"),
    (f"/v1/models/{MODEL}/versions/9:predict", {"inputs": {}}, 404, "9"),
    (f"/v1/models/{MODEL}/versions/9", None, 404, "never seen"),
    ("/v2/nothing", None, 404, "no such endpoint"),
])
def test_bad_requests_get_tf_serving_status_codes(servers, path, body, code, named):
    status, text = http(_url(servers, path), body)
    assert status == code and named in json.loads(text)["error"]
    assert http(_url(servers, f"/v1/models/{MODEL}"))[0] == 200


def test_prometheus_metrics_count_grpc_and_rest_requests(servers):
    from serving import client
    for _ in range(3):
        client.recommend(servers.address, "u", "red shoes")
    http(_url(servers, "/v1/models/other:predict"), {"inputs": {}})
    status, text = http(_url(servers, "/monitoring/prometheus/metrics"))
    assert status == 200

    def value(name, **labels):
        return prometheus_text.sample(text, name, model="privrec", **labels)

    assert value("privrec_serving_requests_total", api="grpc", method="Predict",
                 status="OK") >= 3
    assert value("privrec_serving_requests_total", api="rest", method="POST",
                 status="Not Found") >= 1
    assert value("privrec_serving_request_latency_seconds_count", api="grpc",
                 method="Predict") >= 3
    # The metrics request itself holds no in-flight slot.
    assert value("privrec_serving_requests_in_flight") == 0, text


def test_rest_bearer_tokens(rest_with_token):
    url = f"http://{rest_with_token.rest.address}/v1/models/{MODEL}"
    assert http(url)[0] == 401
    assert http(url, headers={"Authorization": "Bearer nope"})[0] == 403
    assert http(url, headers={"Authorization": "Bearer t0ken"})[0] == 200
