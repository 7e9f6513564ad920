"""Serving latency: top-100 Predict in-process (the floor) vs over gRPC, side by side.

Prints a table (targets, not timed tests) and writes every number as JSON with --json PATH:

* in-process: the SavedModel's `serving_default` called directly (tf.saved_model.load), one
  request = one user (batch 1), from --concurrency threads;
* gRPC: the same SavedModel behind `privrec serve` in its own process (as TF Serving would be),
  called with TF Serving's PredictionServiceStub over one channel per client thread;
  gRPC+batch: the same with `--enable-batching` (concurrent requests share a forward pass). "server
  ms" is the server's own mean time per Predict (its Prometheus latency histogram, read before
  and after each pass): client p50 minus that is transport + serialisation + client;
* gRPC no-op: bench/grpc_noop_server.py, the same grpcio server setup answering every Predict
  with a fixed top-K response without running any model: what Python gRPC alone costs. If its
  p50 exceeds 30 % of the in-process p50, no Python server can meet the 1.3x target.

Both run the same pre-built requests (MovieLens titles as queries, random recent items). p50 and
p99 are per-request latencies; QPS is requests / wall time. Targets (issue #5): gRPC p50 <= 1.3x
in-process p50; p99 <= 15 ms at concurrency 8.

Without --model-dir, a model is built first: the pipeline on MovieLens 100K (--ml-dir) with a
few DP-SGD steps and top_k=100 (latency does not depend on how well it is trained).

    .venv/bin/python bench/serving_latency.py --requests 2000 --json out/serving_latency.json
"""
import argparse
import dataclasses
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)
import grpc  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401  (TF Text ops of the serving graph)
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from bench import report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ML = os.path.join(ROOT, "..", "shared", "data", "movielens-100k")
TARGET_P50_RATIO, TARGET_P99_MS = 1.3, 15.0
# The server twice: as TF Serving runs by default, and with server-side batching.
GRPC_MODES = {"gRPC": (), "gRPC+batch": ("--enable-batching",)}
NOOP_MODE = "gRPC no-op"  # the transport floor: no model behind the same kind of server


def build_model(ml_dir: str, work_dir: str, top_k: int) -> str:
    """Runs the pipeline on MovieLens with a few steps; returns the pushed version's directory."""
    from components.masking import policy, pseudonymizer
    from pipeline import configs, local_runner, run_summary
    from privrec.data import movielens
    config = configs.local_config(
        work_dir, data_dir=os.path.join(work_dir, "ml"), train_steps=20, recall_floor=0.0,
        masking_policy=policy.MOVIELENS_POLICY,
        trainer=dataclasses.replace(configs.TrainerConfig(), top_k=top_k))
    movielens.write_dataset(ml_dir, config.data_dir)
    os.environ.setdefault(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    local_runner.run(config, printer=lambda line: print(" ", line, flush=True))
    summary = run_summary.read(config)
    if not summary.pushed:
        raise SystemExit("the bench model was not pushed; see the run above")
    return os.path.join(config.push_dir, summary.pushed_version)


def make_requests(model_dir: str, n: int, seed: int = 0):
    """n (query, recent_item_ids) pairs: catalog titles and random catalog ids."""
    rng = np.random.default_rng(seed)
    item_ids = [i.decode() for i in tf.saved_model.load(model_dir).signatures[
        "serving_default"](user_id=tf.constant([""]), query=tf.constant([""]),
                           recent_item_ids=tf.constant([""]))["item_ids"].numpy()[0]]
    words = ["star", "wars", "love", "story", "comedy", "night", "house", "man", "city", "dead"]
    return [(" ".join(rng.choice(words, size=rng.integers(1, 4))),
             " ".join(rng.choice(item_ids, size=rng.integers(0, 6)))) for _ in range(n)]


def run_threads(call, requests, concurrency: int):
    """Per-request latencies (s) and wall time of `call(request)` over `concurrency` threads."""
    latencies, chunks = [], [requests[i::concurrency] for i in range(concurrency)]
    lock = threading.Lock()

    def worker(chunk):
        mine = []
        for request in chunk:
            start = time.perf_counter()
            call(request)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start


def summarize(latencies, wall):
    ms = np.array(latencies) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "qps": len(latencies) / wall, "requests": len(latencies)}


def in_process(model_dir: str):
    signature = tf.saved_model.load(model_dir).signatures["serving_default"]

    def call(request):
        query, recent = request
        signature(user_id=tf.constant([""]), query=tf.constant([query]),
                  recent_item_ids=tf.constant([recent]))["item_ids"].numpy()
    return call


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: str, extra_args=()):
    """`privrec serve` in its own process on the model's base path; waits until SERVING."""
    base_path = os.path.dirname(model_dir)
    port, rest_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "privrec"), "serve",
         "--serving-root", os.path.dirname(base_path), "--model-name",
         os.path.basename(base_path), "--port", str(port), "--rest-port", str(rest_port),
         *extra_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = f"127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with grpc.insecure_channel(target) as channel:
                if health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=2).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return process, target, os.path.basename(base_path), rest_port
        except grpc.RpcError:
            pass
        if process.poll() is not None:
            raise SystemExit("privrec serve exited; run it by hand to see why")
        time.sleep(0.5)
    process.kill()
    raise SystemExit("privrec serve did not become SERVING within 180 s")


def start_noop_server(top_k: int):
    """bench/grpc_noop_server.py in its own process; waits until it answers a Predict."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "bench", "grpc_noop_server.py"), "--port", str(port),
         "--top-k", str(top_k)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target, deadline = f"127.0.0.1:{port}", time.time() + 120
    while time.time() < deadline:
        try:
            with grpc.insecure_channel(target) as channel:
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                    predict_pb2.PredictRequest(), timeout=2)
                return process, target
        except grpc.RpcError:
            if process.poll() is not None:
                raise SystemExit("bench/grpc_noop_server.py exited; run it by hand to see why")
            time.sleep(0.5)
    process.kill()
    raise SystemExit("bench/grpc_noop_server.py did not answer within 120 s")


def server_predict_seconds(rest_port: int):
    """(sum, count) of the server's gRPC Predict latency histogram."""
    with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/monitoring/prometheus/metrics",
                                timeout=10) as response:
        text = response.read().decode()
    values = {}
    for part in ("sum", "count"):
        match = re.search(r'privrec_serving_request_latency_seconds_' + part
                          + r'\{[^}]*api="grpc"[^}]*method="Predict"[^}]*\} (\S+)', text)
        values[part] = float(match.group(1)) if match else 0.0
    return values["sum"], values["count"]


def grpc_caller(target: str, model_name: str):
    local = threading.local()

    def call(request):
        if not hasattr(local, "stub"):
            local.stub = prediction_service_pb2_grpc.PredictionServiceStub(
                grpc.insecure_channel(target))
        query, recent = request
        proto = predict_pb2.PredictRequest()
        proto.model_spec.name = model_name
        for name, value in (("user_id", ""), ("query", query), ("recent_item_ids", recent)):
            proto.inputs[name].CopyFrom(tf.make_tensor_proto([value]))
        local.stub.Predict(proto, timeout=30)
    return call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", help="a pushed version (<serving>/<model>/<version>); "
                        "default: build one on MovieLens")
    parser.add_argument("--ml-dir", default=DEFAULT_ML)
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="per mode and concurrency")
    parser.add_argument("--repeats", type=int, default=3, help="medians over this many passes")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    model_dir = args.model_dir or build_model(args.ml_dir, tempfile.mkdtemp(prefix="bench-"),
                                              args.top_k)
    requests = make_requests(model_dir, args.requests)
    top_k = tf.saved_model.load(model_dir).signatures["serving_default"](
        user_id=tf.constant([""]), query=tf.constant([""]),
        recent_item_ids=tf.constant([""]))["item_ids"].shape[1]
    servers = {mode: start_server(model_dir, extra) for mode, extra in GRPC_MODES.items()}
    noop_process, noop_target = start_noop_server(top_k)
    results = {}
    try:
        callers = {"in-process": in_process(model_dir)}
        callers.update({mode: grpc_caller(target, model_name)
                        for mode, (_, target, model_name, _) in servers.items()})
        callers[NOOP_MODE] = grpc_caller(noop_target, "noop")
        for call in callers.values():  # warm up every path
            run_threads(call, requests[:50], 1)
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for mode, call in callers.items():
                passes = []
                rest_port = servers[mode][3] if mode in servers else None
                for _ in range(args.repeats):
                    before = server_predict_seconds(rest_port) if rest_port else None
                    passes.append(summarize(*run_threads(call, requests, concurrency)))
                    if rest_port:
                        after = server_predict_seconds(rest_port)
                        passes[-1]["server_mean_ms"] = 1000 * (after[0] - before[0]) / max(
                            1.0, after[1] - before[1])
                results[f"{mode}@{concurrency}"] = {
                    key: statistics.median(p[key] for p in passes) for key in passes[0]}
                results[f"{mode}@{concurrency}"].update(mode=mode, concurrency=concurrency)
    finally:
        for process in [noop_process] + [s[0] for s in servers.values()]:
            process.terminate()
            process.wait(30)

    print(f"serving latency: top-{top_k} Predict, batch 1, {args.requests} requests per row, "
          f"median of {args.repeats} passes; model {model_dir}")
    print(f"{'mode':<12}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'QPS':>10}{'p50 vs in-proc':>16}"
          f"{'server ms':>11}")
    for key, row in results.items():
        floor = results[f"in-process@{row['concurrency']}"]["p50_ms"]
        row["p50_ratio_vs_in_process"] = row["p50_ms"] / floor
        print(f"{row['mode']:<12}{row['concurrency']:>8}{row['p50_ms']:>10.2f}"
              f"{row['p99_ms']:>10.2f}{row['qps']:>10.1f}{row['p50_ratio_vs_in_process']:>15.2f}x"
              + (f"{row['server_mean_ms']:>11.2f}" if "server_mean_ms" in row else ""))
    targets = {}
    for mode in GRPC_MODES:
        for concurrency in sorted({r["concurrency"] for r in results.values()}):
            ratio = results[f"{mode}@{concurrency}"]["p50_ratio_vs_in_process"]
            targets[f"{mode} p50 <= {TARGET_P50_RATIO}x in-process, {concurrency} clients"] = \
                ratio <= TARGET_P50_RATIO
        if f"{mode}@8" in results:
            targets[f"{mode} p99 <= {TARGET_P99_MS} ms, 8 clients"] = \
                results[f"{mode}@8"]["p99_ms"] <= TARGET_P99_MS
    for concurrency in sorted({r["concurrency"] for r in results.values()}):
        floor = results[f"in-process@{concurrency}"]["p50_ms"]
        noop = results[f"{NOOP_MODE}@{concurrency}"]["p50_ms"]
        share = noop / floor
        results[f"{NOOP_MODE}@{concurrency}"]["share_of_in_process_p50"] = share
        print(f"{concurrency} client(s): Python gRPC with no model costs {noop:.2f} ms p50 = "
              f"{share:.0%} of the in-process p50 (the {TARGET_P50_RATIO}x target allows "
              f"{TARGET_P50_RATIO - 1:.0%})")
    report.print_targets(targets)
    report.write_json(args.json, {"top_k": top_k, "requests": args.requests,
                                  "repeats": args.repeats, "model_dir": model_dir,
                                  "results": results, "targets": targets})


if __name__ == "__main__":
    main()
