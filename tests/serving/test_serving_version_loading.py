"""Version loading as TF Serving does it: a version still being copied is served once complete, a
failed load is retried with back-off, versions are pushed atomically, and version labels from
the model config are honoured (unknown ones refused)."""
import os
import shutil

import grpc
import pytest
from tensorflow_serving.apis import get_model_status_pb2

from serving import atomic_push, model_store, server, version_policy
from tests.support import echo_model
from tests.support.echo_model import MODEL
from tests.support.serving_tools import push, wait_until

_STATE = get_model_status_pb2.ModelVersionStatus


def test_a_version_seen_half_copied_is_served_once_the_copy_finishes(one_model,
                                                                      pushed_base_path):
    """`cp -r` order: saved_model.pb is there before variables/; the server sees it mid-way."""
    base = pushed_base_path
    model_server = server.ModelServer(MODEL, base, port=0, poll_seconds=0.1)
    address, _ = model_server.start()
    try:
        version_2 = os.path.join(base, "2")
        os.makedirs(version_2)
        shutil.copyfile(os.path.join(one_model, "saved_model.pb"),
                        os.path.join(version_2, "saved_model.pb"))
        not_loaded = (_STATE.END, _STATE.START)
        assert wait_until(lambda: echo_model.states(address).get(2) in not_loaded, 10)
        os.makedirs(os.path.join(version_2, "variables"))  # then variables/, one file at a time
        shutil.copyfile(os.path.join(one_model, "variables", "variables.index"),
                        os.path.join(version_2, "variables", "variables.index"))
        assert wait_until(lambda: echo_model.states(address).get(2) in not_loaded, 10)
        for name in os.listdir(one_model):
            source, target = os.path.join(one_model, name), os.path.join(version_2, name)
            if os.path.isdir(source):
                shutil.copytree(source, target, dirs_exist_ok=True)
            elif name != "saved_model.pb":
                shutil.copyfile(source, target)
        assert wait_until(lambda: echo_model.states(address).get(2) == _STATE.AVAILABLE, 20)
        assert echo_model.predict(address, echo_model.request()).model_spec.version.value == 2
    finally:
        model_server.stop()


def test_incomplete_variables_are_waited_for_not_loaded(one_model, tmp_path):
    version = tmp_path / MODEL / "1"
    shutil.copytree(one_model, version)
    shards = [n for n in os.listdir(version / "variables") if n.startswith("variables.data")]
    os.remove(version / "variables" / shards[0])
    store = model_store.ModelStore(MODEL, str(tmp_path / MODEL))
    assert store.refresh() is None
    state, message = store.states[1]
    assert state == _STATE.START and "variables/variables.data-" in message


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


def test_a_failed_load_is_retried_with_back_off(tmp_path, monkeypatch):
    version = tmp_path / MODEL / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"not a SavedModel")
    attempts = []

    def failing_servable(path, number):
        attempts.append(number)
        raise OSError("cannot read")

    clock = _Clock()
    monkeypatch.setattr(model_store, "time", clock)
    monkeypatch.setattr(model_store, "Servable", failing_servable)
    store = model_store.ModelStore(MODEL, str(tmp_path / MODEL))
    for advance in (0, 0, 1.1, 0, 1.5, 0.6, 0, 60, 60, 60):  # retries after 1, 2, 4, ... s
        clock.now += advance
        store.refresh()
    assert len(attempts) == 6
    assert store.states[1][0] == _STATE.END and "cannot read" in store.states[1][1]
    (version / "saved_model.pb").write_bytes(b"changed")  # new files: retried at once
    store.refresh()
    assert len(attempts) == 7


def test_version_labels_from_the_model_config(one_model, tmp_path):
    base = str(tmp_path / MODEL)
    os.makedirs(base)
    for version in (1, 2):
        push(one_model, base, version)
    config_file = tmp_path / "models.config"
    config_file.write_text(
        f'model_config_list {{ config {{ name: "{MODEL}" base_path: "{base}" '
        'model_platform: "tensorflow" model_version_policy { all {} } '
        'version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 } '
        '} }')
    config = version_policy.read_model_config(str(config_file))
    assert config.version_labels == {"stable": 1, "canary": 2}
    model_server = server.ModelServer(MODEL, base, port=0, policy=config.policy,
                                      version_labels=config.version_labels)
    address, _ = model_server.start()
    try:
        for label, version in (("stable", 1), ("canary", 2)):
            request = echo_model.request()
            request.model_spec.version_label = label
            assert echo_model.predict(address, request).model_spec.version.value == version
        request = echo_model.request()
        request.model_spec.version_label = "nightly"
        with pytest.raises(grpc.RpcError) as error:
            echo_model.predict(address, request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'nightly'" in error.value.details() and "'stable'" in error.value.details()
    finally:
        model_server.stop()


def test_atomic_push_publishes_a_complete_version_under_its_number(one_model, tmp_path):
    base = str(tmp_path / MODEL)
    seen_while_staging = []

    def add_card(staged):
        seen_while_staging.append(model_store.list_versions(base))
        os.makedirs(os.path.join(staged, "model_card"))
        with open(os.path.join(staged, "model_card", "card.md"), "w") as f:
            f.write("# card")

    path = atomic_push.push_version(one_model, base, 7, before_publish=add_card)
    assert path == os.path.join(base, "7") and seen_while_staging == [[]]
    assert sorted(os.listdir(base)) == ["7"]
    assert os.path.exists(os.path.join(path, "variables", "variables.index"))
    assert os.path.exists(os.path.join(path, "model_card", "card.md"))
    assert os.stat(path).st_mode & 0o777 == 0o755
    with pytest.raises(FileExistsError, match="never overwritten"):
        atomic_push.push_version(one_model, base, 7)

    def broken(staged):
        raise RuntimeError("card failed")

    with pytest.raises(RuntimeError):
        atomic_push.push_version(one_model, base, 8, before_publish=broken)
    assert sorted(os.listdir(base)) == ["7"]  # nothing half-written left behind
