"""Thousands of randomly built and mutated Predict requests (random model specs, dtypes, declared
shapes of any size, values of every TensorProto field, nested variant and resource protos, and
each one's serialized bytes with some flipped or cut) against `privrec serve` in its own process: every answer is OK or a client error of TF
Serving's (never UNKNOWN or INTERNAL), the server stays up, and its peak RSS stays bounded."""
import os
import subprocess
import sys
import time

import grpc
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.support import echo_model
from tests.support.echo_model import MODEL
from tests.support.paths import ROOT
from tests.support.serving_tools import free_port, stop

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.FAILED_PRECONDITION}
RSS_GROWTH_LIMIT = 300 << 20  # peak RSS under the fuzz, above the RSS of the warmed-up server
INPUTS = ("user_id", "query", "recent_item_ids")

INT32 = st.integers(-2 ** 31, 2 ** 31 - 1)
INT64 = st.integers(-2 ** 63, 2 ** 63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
HUGE = st.sampled_from([50_000_000, 10 ** 9, 10 ** 12, 2 ** 62, 2 ** 63 - 1])
SIZES = st.one_of(st.integers(-3, 6), st.sampled_from([0, 1, 8, 9, 1024]), HUGE)
# Declared shapes: any, or one huge dimension behind a small batch (amplification: a tiny
# message asking for a huge tensor, which make_ndarray would fill in).
SHAPES = st.one_of(st.lists(SIZES, max_size=6), st.tuples(st.integers(0, 2), HUGE).map(
    lambda batch_and_size: [batch_and_size[0] or 1, batch_and_size[1]][batch_and_size[0] == 0:]))
COMMON_DTYPES = (types_pb2.DT_STRING, types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE,
                 types_pb2.DT_INT32, types_pb2.DT_INT64, types_pb2.DT_BOOL)
DTYPES = st.one_of(st.sampled_from(COMMON_DTYPES), st.sampled_from(
    sorted(types_pb2.DataType.values())), st.integers(-3, 300))
STRINGS = st.lists(st.one_of(st.binary(max_size=40), st.just(b"x" * 300_000)), max_size=6)
VALUES = {  # TensorProto field -> values for it
    "string_val": STRINGS, "float_val": st.lists(FLOATS, max_size=6),
    "double_val": st.lists(st.floats(), max_size=6), "int_val": st.lists(INT32, max_size=6),
    "int64_val": st.lists(INT64, max_size=6), "bool_val": st.lists(st.booleans(), max_size=6),
    "half_val": st.lists(INT32, max_size=6), "scomplex_val": st.lists(FLOATS, max_size=6),
    "dcomplex_val": st.lists(st.floats(), max_size=6),
    "uint32_val": st.lists(st.integers(0, 2 ** 32 - 1), max_size=6),
    "uint64_val": st.lists(st.integers(0, 2 ** 64 - 1), max_size=6),
    "float8_val": st.binary(max_size=6), "tensor_content": st.binary(max_size=64),
}


def _tensor(dtype, dims, unknown_rank, values, version_number, nested):
    proto = tensor_pb2.TensorProto(dtype=dtype, version_number=version_number)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_shape.unknown_rank = unknown_rank
    for field, value in values.items():
        if field in ("float8_val", "tensor_content"):
            setattr(proto, field, value)
        else:
            getattr(proto, field).extend(value)
    for kind, inner in nested:
        if kind == "variant":
            variant = proto.variant_val.add(type_name="privrec.fuzz", metadata=b"\x00\xff")
            variant.tensors.add().CopyFrom(inner)
        else:
            proto.resource_handle_val.add(device="/cpu:0", name="fuzz", hash_code=7,
                                          maybe_type_name=inner.SerializeToString()[:20].hex())
    return proto


def _tensors(nesting=1):
    """TensorProtos of any dtype, declared shape and values; with `nesting`, some carry further
    TensorProtos inside variant or resource-handle values."""
    nested = st.just(()) if not nesting else st.one_of(st.just(()), st.lists(
        st.tuples(st.sampled_from(["variant", "resource"]), _tensors(nesting - 1)), max_size=2))
    return st.builds(_tensor, dtype=DTYPES, dims=SHAPES,
                     unknown_rank=st.sampled_from([False] * 9 + [True]),
                     values=st.fixed_dictionaries({}, optional=dict(VALUES)),
                     version_number=st.integers(-5, 5), nested=nested)


def _valid(batch, name):
    return tf.make_tensor_proto([f"{name} {i} red shoes" for i in range(batch)])


@st.composite
def _inputs(draw):
    """Mostly a valid request with some inputs replaced, dropped or added; else all random."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.dictionaries(st.sampled_from(INPUTS + ("extra", "")), _tensors(),
                                    max_size=4))
    batch = draw(st.integers(0, 9))
    inputs = {name: _valid(batch, name) for name in INPUTS}
    mutated = draw(st.sampled_from([0] * 3 + [1] * 3 + [2]))
    for name in draw(st.lists(st.sampled_from(INPUTS), min_size=mutated, max_size=mutated,
                              unique=True)):
        if draw(st.booleans()):
            inputs[name] = draw(_tensors())
        else:
            del inputs[name]
    if draw(st.integers(0, 9)) == 0:
        inputs["extra"] = draw(_tensors())
    return inputs


@st.composite
def predict_requests(draw):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = draw(st.sampled_from([MODEL] * 18 + ["other", ""]))
    version_choice = draw(st.sampled_from(["none"] * 18 + ["version", "label"]))
    if version_choice == "version":
        request.model_spec.version.value = draw(st.one_of(st.integers(-1, 3), INT64))
    elif version_choice == "label":
        request.model_spec.version_label = draw(st.sampled_from(["stable", "nope", ""]))
    request.model_spec.signature_name = draw(st.sampled_from(
        [""] * 8 + ["serving_default", "serving_default", "eval", "nope"]))
    for name, proto in draw(_inputs()).items():
        request.inputs[name].CopyFrom(proto)
    if draw(st.integers(0, 9)) == 0:
        request.output_filter.extend(draw(st.lists(
            st.sampled_from(["item_ids", "scores", "nope"]), max_size=2)))
    return request


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


def _valid_request():
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    for name in INPUTS:
        request.inputs[name].CopyFrom(_valid(1, name))
    return request


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`privrec serve` on the echo model in its own process: (stub, pid)."""
    root = tmp_path_factory.mktemp("fuzz") / "serving"
    echo_model.save(str(root / MODEL / "1"))
    port = free_port()
    log_path = root / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "privrec.app.cli", "serve", "--serving-root", str(root),
             "--model-name", MODEL, "--port", str(port), "--max-batch-size", "8"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    raw_predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")  # bytes
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                stub.Predict(_valid_request(), timeout=2)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline and process.poll() is None, \
                    log_path.read_text()[-3000:]
                time.sleep(0.2)
        yield stub, raw_predict, process, log_path
    finally:
        channel.close()
        stop(process)


@pytest.mark.parametrize("examples", [
    1500, pytest.param(5000, marks=pytest.mark.heavy)])
def test_random_predict_requests_get_client_errors_and_the_server_stays_small(served, examples):
    stub, raw_predict, process, log_path = served
    baseline = _status_kb(process.pid, "VmRSS")
    with open(f"/proc/{process.pid}/clear_refs", "w") as f:
        f.write("5")  # peak RSS from here
    codes = {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(request=predict_requests(), flips=st.lists(
        st.tuples(st.integers(0, 2 ** 20), st.integers(0, 255)), min_size=1, max_size=4),
        cut=st.integers(0, 2 ** 20))
    def answer_is_a_client_error(request, flips, cut):
        """The request as drawn, then its bytes with a few flipped and the tail cut off."""
        data = bytearray(request.SerializeToString())
        for position, byte in flips:
            if data:
                data[position % len(data)] = byte
        if data and cut % 3 == 0:
            del data[cut % len(data):]
        for call, message in ((stub.Predict, request), (raw_predict, bytes(data))):
            try:
                call(message, timeout=30)
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()
                assert code in ALLOWED, (code, error.details(), message)
                assert "Traceback" not in (error.details() or "")
            codes[code] = codes.get(code, 0) + 1

    answer_is_a_client_error()
    peak = _status_kb(process.pid, "VmHWM")
    print(f"\n{sum(codes.values())} requests: "
          + ", ".join(f"{c.name} {n}" for c, n in sorted(codes.items(), key=lambda x: -x[1]))
          + f"; server RSS {baseline / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB")
    assert process.poll() is None, log_path.read_text()[-3000:]
    assert stub.Predict(_valid_request(), timeout=10).model_spec.version.value == 1
    assert sum(codes.values()) >= 2 * examples
    assert codes.get(grpc.StatusCode.OK, 0) > examples // 10  # the valid paths were exercised
    assert peak - baseline < RSS_GROWTH_LIMIT, (baseline, peak)
