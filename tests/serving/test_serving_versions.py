"""Version policy, warm-up, GetModelStatus states and hot swap under load, over a real gRPC
channel on small real SavedModels (fast: no pipeline run)."""
import os
import threading
import time

import grpc
import pytest
from tensorflow_serving.apis import (get_model_status_pb2, model_service_pb2_grpc,
                                     prediction_service_pb2_grpc)

from serving import server, version_policy
from tests.support import echo_model
from tests.support.echo_model import MODEL
from tests.support.serving_tools import push, wait_until

_STATE = get_model_status_pb2.ModelVersionStatus


def _predict_version(channel, version=None):
    request = echo_model.request()
    if version is not None:
        request.model_spec.version.value = version
    return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
        request, timeout=10).model_spec.version.value


def test_latest_two_versions_are_served_and_older_ones_unloaded(one_model, pushed_base_path):
    base = pushed_base_path
    model_server = server.ModelServer(MODEL, base, port=0, poll_seconds=0.1,
                                      policy=version_policy.VersionPolicy(latest=2))
    address, version = model_server.start()
    try:
        assert version == 1 and echo_model.states(address) == {1: _STATE.AVAILABLE}
        push(one_model, base, 2)
        assert wait_until(lambda: echo_model.states(address).get(2) == _STATE.AVAILABLE)
        push(one_model, base, 3)
        assert wait_until(lambda: echo_model.states(address).get(1) == _STATE.END)
        assert echo_model.states(address) == {1: _STATE.END, 2: _STATE.AVAILABLE,
                                               3: _STATE.AVAILABLE}
        with grpc.insecure_channel(address) as channel:
            assert _predict_version(channel) == 3 and _predict_version(channel, 2) == 2
            with pytest.raises(grpc.RpcError) as error:
                _predict_version(channel, 1)
            assert error.value.code() == grpc.StatusCode.NOT_FOUND
            assert "available: 2, 3" in error.value.details()
    finally:
        model_server.stop()


def test_a_broken_version_is_reported_and_the_good_one_keeps_serving(pushed_base_path):
    base = pushed_base_path
    model_server = server.ModelServer(MODEL, base, port=0, poll_seconds=0.1)
    address, _ = model_server.start()
    try:
        os.makedirs(os.path.join(base, "2"))
        with open(os.path.join(base, "2", "saved_model.pb"), "wb") as f:
            f.write(b"not a SavedModel")
        assert wait_until(lambda: echo_model.states(address).get(2) == _STATE.END)
        with grpc.insecure_channel(address) as channel:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = MODEL
            request.model_spec.version.value = 2
            status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
                request, timeout=5).model_version_status[0]
            assert status.status.error_message and status.status.error_code != 0
            assert _predict_version(channel) == 1
    finally:
        model_server.stop()


def test_model_config_file_policies(tmp_path):
    def parse(policy):
        path = tmp_path / "models.config"
        path.write_text('model_config_list { config { name: "privrec" base_path: "/m" '
                        f'model_platform: "tensorflow" {policy} }} }}')
        return version_policy.read_model_config(str(path))

    assert parse("").policy.select([1, 2, 3]) == [3]
    assert parse("model_version_policy { latest { num_versions: 2 } }").policy.select(
        [3, 1, 2]) == [2, 3]
    assert parse("model_version_policy { specific { versions: 1 versions: 3 } }").policy.select(
        [1, 2, 3, 4]) == [1, 3]
    assert parse("model_version_policy { all {} }").policy.select([2, 1]) == [1, 2]
    config = parse("")
    assert (config.name, config.base_path) == ("privrec", "/m")
    repo_config = os.path.join(os.path.dirname(__file__), "..", "..", "serving", "configs",
                               "models.config")
    assert version_policy.read_model_config(repo_config).policy.select([1, 2]) == [2]
    (tmp_path / "bad.config").write_text("model_config_list { config { nme: 1 } }")
    with pytest.raises(ValueError, match="bad.config: not a TF Serving model config"):
        version_policy.read_model_config(str(tmp_path / "bad.config"))


@pytest.mark.parametrize("clients, seconds", [
    (8, 6.0), pytest.param(8, 30.0, marks=pytest.mark.heavy)])
def test_concurrent_clients_see_no_failure_while_a_new_version_is_pushed(
        one_model, pushed_base_path, clients, seconds):
    """8 clients while a new version is pushed mid-way: 6 s by default, 30 s in the heavy run."""
    base = pushed_base_path
    model_server = server.ModelServer(MODEL, base, port=0, poll_seconds=0.1, workers=clients)
    address, _ = model_server.start()
    failures, seen = [], [[] for _ in range(clients)]
    stop = threading.Event()

    def client(i):
        with grpc.insecure_channel(address) as channel:
            while not stop.is_set():
                try:
                    seen[i].append(_predict_version(channel))
                except grpc.RpcError as error:
                    failures.append(f"{error.code()}: {error.details()}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(seconds / 2)
        push(one_model, base, 2)
        time.sleep(seconds / 2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        model_server.stop()
    assert failures == []
    for versions in seen:
        assert versions[0] == 1 and versions[-1] == 2, "every client switched to version 2"
        assert versions == sorted(versions), "no client went back to version 1"
    assert sum(len(v) for v in seen) > 100
