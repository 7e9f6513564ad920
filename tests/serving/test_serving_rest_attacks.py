"""The REST port against clients that frame badly, stall, nest deeply or hang up, and TF Serving's
REST conventions (b64 values, signature_name, /metadata, version labels), over real sockets on
127.0.0.1."""
import base64
import json
import logging
import re
import socket
import threading
import time

import pytest

from serving import rest, server
from tests.support.echo_model import MODEL
from tests.support.serving_tools import http

IDLE_SECONDS = 2.0


@pytest.fixture(scope="module")
def servers(base_path):
    model_server = server.ModelServer(
        MODEL, base_path, port=0, rest_port=0, max_batch_size=4, version_labels={"stable": 1},
        rest_limits=rest.HttpLimits(idle_seconds=IDLE_SECONDS))
    model_server.start()
    yield model_server
    model_server.stop()


def _predict_url(model_server, where=""):
    return f"http://{model_server.rest.address}/v1/models/{MODEL}{where}:predict"


def _raw(model_server, head: bytes, body: bytes = b"", timeout=10) -> bytes:
    """Sends `head` and `body` on one socket; the first bytes of the answer."""
    host, port = model_server.rest.address.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for start in range(0, len(body), 1 << 20):
                sock.sendall(body[start:start + (1 << 20)])
        except OSError:  # the server answered and closed without reading it all
            pass
        return sock.recv(200)


ROW = {"user_id": "u", "query": "red shoes", "recent_item_ids": ""}


def test_a_negative_content_length_is_refused_without_reading_the_body(servers):
    start = time.monotonic()
    answer = _raw(servers, b"POST /v1/models/privrec:predict HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: -1\r\n\r\n", b"x" * (12 << 20))
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert time.monotonic() - start < 5


def test_oversized_headers_are_refused(servers):
    answer = _raw(servers, b"GET /v1/models/privrec HTTP/1.1\r\nHost: x\r\nX-Big: "
                  + b"a" * (128 << 10) + b"\r\n\r\n")
    assert re.match(rb"HTTP/1\.[01] 431 ", answer), answer


def test_deeply_nested_json_is_a_400_naming_the_nesting(servers):
    status, text = http(_predict_url(servers), b"[" * 200_000 + b"]" * 200_000)
    assert status == 400 and "nested" in json.loads(text)["error"]
    nested = "x"
    for _ in range(40):  # deeper than the limit, well within Python's own
        nested = [nested]
    status, text = http(_predict_url(servers), {"instances": [dict(ROW, query=nested)]})
    assert status == 400 and "nested" in json.loads(text)["error"]


def test_b64_values_signature_name_and_version_labels(servers):
    def b64(text):
        return {"b64": base64.b64encode(text.encode()).decode()}

    status, text = http(_predict_url(servers, "/labels/stable"), {
        "signature_name": "serving_default",
        "instances": [{"user_id": b64("u"), "query": b64("red shoes"), "recent_item_ids": ""}]})
    assert status == 200, text
    assert json.loads(text)["predictions"][0]["item_ids"] == ["red", "shoes"]
    status, text = http(_predict_url(servers), {"signature_name": "nope", "instances": [ROW]})
    assert status == 400 and "'nope'" in json.loads(text)["error"]
    status, text = http(_predict_url(servers, "/labels/nightly"), {"instances": [ROW]})
    assert status == 400 and "'nightly'" in json.loads(text)["error"]
    status, text = http(_predict_url(servers), {"instances": [dict(ROW, query={"b64": "!!"})]})
    assert status == 400 and "base64" in json.loads(text)["error"]


def test_metadata_endpoint(servers):
    status, text = http(f"http://{servers.rest.address}/v1/models/{MODEL}/metadata")
    assert status == 200, text
    body = json.loads(text)
    assert body["model_spec"]["name"] == MODEL and body["model_spec"]["version"] == "1"
    inputs = body["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert set(inputs) == {"user_id", "query", "recent_item_ids"}


def test_half_open_connections_cost_no_thread_and_are_closed_when_idle(servers):
    host, port = servers.rest.address.split(":")
    threads_before = threading.active_count()
    stalled = []
    try:
        for _ in range(300):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"POST /v1/models/privrec:predict HTTP/1.1\r\nHost: x\r\n")  # no end
            stalled.append(sock)
        start = time.monotonic()
        status, text = http(_predict_url(servers), {"instances": [ROW]}, timeout=5)
        assert status == 200 and time.monotonic() - start < 2.0, text
        assert threading.active_count() - threads_before < 10
        time.sleep(IDLE_SECONDS * 2.5)  # the idle timeout and one maintenance pass
        closed = 0
        for sock in stalled:
            sock.settimeout(0.5)
            try:
                closed += sock.recv(100) == b""
            except OSError:
                closed += 1
        assert closed == len(stalled)
    finally:
        for sock in stalled:
            sock.close()


def test_rest_auth_failures_are_counted_under_their_own_status(rest_with_token):
    url = f"http://{rest_with_token.rest.address}/v1/models/{MODEL}"
    assert http(url, headers={"Authorization": "Bearer nope"})[0] == 403
    assert http(url)[0] == 401
    text = rest_with_token.metrics.text().decode()
    assert re.search(r'api="rest",method="GET",model="privrec",status="Forbidden"\} 1', text)
    assert re.search(r'api="rest",method="GET",model="privrec",status="Unauthorized"\} 1', text)


def test_a_client_that_hangs_up_costs_one_log_line(slow_base_path, caplog, capfd):
    model_server = server.ModelServer(MODEL, slow_base_path, port=0, rest_port=0)
    model_server.start()
    try:
        body = json.dumps({"instances": [dict(ROW, user_id="1000000")]}).encode()
        host, port = model_server.rest.address.split(":")
        with caplog.at_level(logging.INFO):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"POST /v1/models/privrec:predict HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
                time.sleep(0.3)  # the request is running in the model
            deadline = time.monotonic() + 15
            while "Client Closed Request" not in model_server.metrics.text().decode():
                assert time.monotonic() < deadline, "the dropped request was never counted"
                time.sleep(0.05)
            status, _ = http(f"http://{model_server.rest.address}/v1/models/{MODEL}")
        assert status == 200
        lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
        assert not any(r.exc_info for r in caplog.records)
        assert "Traceback" not in capfd.readouterr().err
    finally:
        model_server.stop()
