"""Server-side batching (serving/batching.py) over a real gRPC channel on the echo SavedModel:
concurrent requests are answered from shared batches, each with its own rows; a request whose
deadline passes in the queue is not run; a full queue refuses with UNAVAILABLE."""
import threading

import grpc
import pytest
import tensorflow as tf

from serving import batching, client, server
from tests.support.echo_model import MODEL


def _params_file(tmp_path, text):
    path = tmp_path / "batching.config"
    path.write_text(text)
    return str(path)


def test_tf_serving_batching_parameters_file_is_read(tmp_path):
    params = batching.read_batching_parameters(_params_file(tmp_path, (
        "# TF Serving format\nmax_batch_size { value: 16 }\nbatch_timeout_micros { value: 500 }\n"
        "num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 8 }\n"
        "pad_variable_length_inputs: { value: 0 }\n")))
    assert params == batching.BatchingParameters(16, 500, 1, 8)


@pytest.mark.parametrize("text, named", [
    ("max_batch_size { value: 16 }\nbatch_size_limit { value: 3 }", "batch_size_limit"),
    ("max_batch_size { value: 0 }", "max_batch_size must be an integer >= 1"),
    ("max_batch_size = 16", "max_batch_size = 16"),
])
def test_bad_batching_parameters_are_named(tmp_path, text, named):
    with pytest.raises(ValueError, match=named):
        batching.read_batching_parameters(_params_file(tmp_path, text))


@pytest.fixture()
def batching_server(base_path):
    # 20 ms to fill a batch, so eight concurrent clients surely share some.
    model_server = server.ModelServer(MODEL, base_path, port=0, batching_parameters=(
        batching.BatchingParameters(max_batch_size=8, batch_timeout_micros=20_000)))
    address, _ = model_server.start()
    yield model_server, address
    model_server.stop()


def test_concurrent_requests_share_batches_and_get_their_own_answers(batching_server):
    model_server, address = batching_server
    wrong, failures = [], []

    def user(n):
        for i in range(10):
            query = f"q{n}x{i} w{n}"
            try:
                items = [item for item, _ in client.recommend(address, "u", query)[1]]
            except grpc.RpcError as error:
                failures.append(error.code())
                continue
            if items != [f"q{n}x{i}", f"w{n}"]:
                wrong.append((query, items))

    threads = [threading.Thread(target=user, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and not wrong, (failures, wrong[:3])
    sizes = model_server.batcher.batch_sizes
    assert sum(size * count for size, count in sizes.items()) == 80
    assert max(sizes) > 1, sizes  # some requests really ran together


def test_a_request_past_its_deadline_in_the_queue_is_not_run(base_path):
    model_server = server.ModelServer(MODEL, base_path, port=0, batching_parameters=(
        batching.BatchingParameters(max_batch_size=8, batch_timeout_micros=300_000)))
    address, _ = model_server.start()
    try:
        with pytest.raises(grpc.RpcError) as error:
            client.recommend(address, "u", "late request", timeout=0.05)
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert client.recommend(address, "u", "next one")[1][0][0] == "next"
    finally:
        model_server.stop()
    assert model_server.batcher.expired == 1
    assert sum(model_server.batcher.batch_sizes.values()) == 1  # only "next one" ran


def test_a_full_queue_refuses_instead_of_growing():
    batcher = batching.Batcher(batching.BatchingParameters(
        max_batch_size=1, num_batch_threads=1, max_enqueued_batches=1))
    release, started = threading.Event(), threading.Event()

    def slow(inputs):
        started.set()
        release.wait(10)
        return {"y": inputs["x"] * 2}

    results = []

    def submit(value):
        threading.Thread(target=lambda: results.append(batcher.run(
            ("m", 1), slow, {"x": tf.constant([value])}, 1)["y"].tolist())).start()

    submit(1)  # runs, and blocks the only batch thread
    assert started.wait(10)
    submit(2)  # waits in the queue, which is then full
    for _ in range(200):
        if batcher.queued_rows == 1:
            break
        threading.Event().wait(0.01)
    try:
        with pytest.raises(batching.Overloaded, match="queue is full"):
            batcher.run(("m", 1), slow, {"x": tf.constant([3])}, 1)
    finally:
        release.set()
    for _ in range(100):
        if len(results) == 2:
            break
        threading.Event().wait(0.05)
    batcher.stop()
    assert sorted(results) == [[2], [4]]
