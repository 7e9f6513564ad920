"""Graceful shutdown: a stopping server (SIGTERM to `privrec serve`) reports NOT_SERVING, refuses
new calls, lets the calls in flight finish within the grace period, then exits 0."""
import os
import signal
import subprocess
import sys
import threading
import time

import json
import urllib.error
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from serving import server
from tests.support import echo_model, prometheus_text
from tests.support.echo_model import MODEL
from tests.support.paths import ROOT
from tests.support.serving_tools import free_port, wait_until


def _calls_in_background(address, count, micros):
    """`count` Predicts that each sleep `micros` in the model; returns (threads, outcomes)."""
    outcomes = []

    def call():
        try:
            echo_model.predict(address, echo_model.request(user_id=[str(micros)]), timeout=60)
            outcomes.append("OK")
        except grpc.RpcError as error:
            outcomes.append(error.code().name)

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_stop_reports_not_serving_and_lets_calls_in_flight_finish(slow_base_path):
    model_server = server.ModelServer(MODEL, slow_base_path, port=0)
    address, _ = model_server.start()
    threads, outcomes = _calls_in_background(address, 3, 500_000)
    assert wait_until(lambda: model_server.requests_in_flight.count == 3, 20)
    stopping = threading.Thread(target=lambda: outcomes.append(("drained", model_server.stop(10))))
    stopping.start()
    assert wait_until(lambda: model_server.health.Check(
        health_pb2.HealthCheckRequest(service=MODEL), None).status
        == health_pb2.HealthCheckResponse.NOT_SERVING, 5)
    with pytest.raises(grpc.RpcError) as refused:  # no new calls while draining
        echo_model.predict(address, echo_model.request(user_id=["0"]), timeout=5)
    assert refused.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    for thread in threads + [stopping]:
        thread.join(30)
    assert sorted(outcomes, key=str) == [("drained", True), "OK", "OK", "OK"]


def test_calls_past_the_grace_period_are_cut_off(slow_base_path):
    model_server = server.ModelServer(MODEL, slow_base_path, port=0)
    address, _ = model_server.start()
    threads, outcomes = _calls_in_background(address, 1, 20_000_000)
    assert wait_until(lambda: model_server.requests_in_flight.count == 1, 20)
    start = time.monotonic()
    assert model_server.stop(grace=0.5) is False
    assert time.monotonic() - start < 5
    threads[0].join(30)
    assert outcomes and outcomes[0] != "OK"


def _health(address):
    try:
        with grpc.insecure_channel(address) as channel:
            return health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=MODEL), timeout=1).status
    except grpc.RpcError:
        return None


def _in_flight(rest_port) -> float:
    """The server's privrec_serving_requests_in_flight gauge (serving/metrics.py)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/monitoring/prometheus/metrics",
                                timeout=5) as response:
        text = response.read().decode()
    return prometheus_text.sample(text, "privrec_serving_requests_in_flight")


def _rest_predict(rest_port, micros, outcomes):
    body = json.dumps({"instances": [{"user_id": str(micros), "query": "red shoes",
                                      "recent_item_ids": ""}]}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{rest_port}/v1/models/{MODEL}:predict", data=body),
                timeout=60) as response:
            outcomes.append("OK" if response.status == 200 else str(response.status))
    except (urllib.error.URLError, OSError) as error:
        outcomes.append(f"REST {error}")


def test_sigterm_drains_calls_in_flight_then_exits_0(tmp_path):
    """`privrec serve --drain-seconds 60`: 4 gRPC calls and 1 REST call of ~1-2 s each, all in
    flight at SIGTERM, all finish OK, and the process exits 0. The echo model's sleeps run one
    after another (~10 s for the five), so the drain period is set well above that."""
    root = tmp_path / "serving"
    echo_model.save(str(root / MODEL / "1"), echo_model.SlowEchoModel)
    port, rest_port = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "privrec.app.cli", "serve", "--serving-root", str(root),
             "--model-name", MODEL, "--port", str(port), "--rest-port", str(rest_port),
             "--drain-seconds", "60"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: _health(address) == health_pb2.HealthCheckResponse.SERVING,
                          120), log_path.read_text()[-3000:]
        threads, outcomes = _calls_in_background(address, 4, 1_000_000)
        threads.append(threading.Thread(target=_rest_predict,
                                        args=(rest_port, 1_000_000, outcomes)))
        threads[-1].start()
        # SIGTERM once all five are in the model (the server's own gauge), however busy the CPU.
        assert wait_until(lambda: _in_flight(rest_port) == 5, 30), outcomes
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(90)
        assert process.wait(30) == 0, log_path.read_text()[-3000:]
        assert outcomes == ["OK"] * 5, (outcomes, log_path.read_text()[-3000:])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
