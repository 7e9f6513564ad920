"""serving/request_limits.py: declared shapes refused before decoding, at and just over each limit."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from privrec import contract
from serving import request_limits
from serving.request_limits import RequestLimits, RequestTooLarge, check_request

LIMITS = RequestLimits(max_batch_size=8, max_elements=100, max_bytes=1_000)
OVERHEAD = request_limits.STRING_ELEMENT_OVERHEAD


def _proto(dims, dtype=types_pb2.DT_FLOAT, strings=(), unknown_rank=False):
    proto = tensor_pb2.TensorProto(dtype=dtype)
    proto.tensor_shape.unknown_rank = unknown_rank
    for d in dims:
        proto.tensor_shape.dim.add(size=d)
    proto.string_val.extend(strings)
    return proto


def test_defaults_are_the_contracts():
    limits = RequestLimits()
    assert limits.max_batch_size == contract.SERVING_MAX_BATCH_SIZE
    assert (limits.max_elements, limits.max_bytes) == (1 << 20, 64 << 20)


def test_batch_size_at_the_limit_passes_one_over_is_refused():
    check_request({"q": _proto([8, 3])}, LIMITS)
    with pytest.raises(ValueError, match="'q' has batch size 9, above .* maximum of 8") as error:
        check_request({"q": _proto([9, 1])}, LIMITS)
    assert not isinstance(error.value, RequestTooLarge)
    check_request({"scalar": _proto([])}, LIMITS)


def test_elements_summed_over_inputs_at_and_over_the_limit():
    check_request({"a": _proto([5, 10]), "b": _proto([5, 10])}, LIMITS)  # 100
    with pytest.raises(RequestTooLarge, match="input 'b' declares 51 elements.* 100 elements"):
        check_request({"a": _proto([5, 10]), "b": _proto([3, 17])}, LIMITS)


def test_bytes_of_numbers_at_and_over_the_limit():
    limits = RequestLimits(max_batch_size=8, max_elements=10_000, max_bytes=1_000)
    check_request({"x": _proto([5, 50])}, limits)                                  # 250 × 4 B
    with pytest.raises(RequestTooLarge, match="'x' would take 1004 bytes"):
        check_request({"x": _proto([1, 251])}, limits)
    with pytest.raises(RequestTooLarge, match="1000 bytes"):
        check_request({"x": _proto([1, 126], dtype=types_pb2.DT_INT64)}, limits)  # 1008 B
    check_request({"x": _proto([1, 125], dtype=types_pb2.DT_INT64)}, limits)       # 1000 B


def test_strings_are_counted_as_make_ndarray_would_fill_them():
    # One value declared over 10 elements: make_ndarray repeats the last value.
    proto = _proto([10], dtype=types_pb2.DT_STRING, strings=[b"abc"])
    decoded = tf.make_ndarray(proto)
    expected = sum(len(v) + OVERHEAD for v in decoded.ravel())
    assert decoded.shape == (10,) and expected == 10 * (3 + OVERHEAD)
    check_request({"s": proto}, RequestLimits(10, 100, expected))
    with pytest.raises(RequestTooLarge):
        check_request({"s": proto}, RequestLimits(10, 100, expected - 1))
    mixed = _proto([3], dtype=types_pb2.DT_STRING, strings=[b"a", b"bbbb"])
    expected = sum(len(v) + OVERHEAD for v in tf.make_ndarray(mixed).ravel())
    check_request({"s": mixed}, RequestLimits(8, 100, expected))
    with pytest.raises(RequestTooLarge):
        check_request({"s": mixed}, RequestLimits(8, 100, expected - 1))


def test_a_tiny_request_declaring_fifty_million_strings_is_refused_undecoded():
    proto = _proto([1, 50_000_000], dtype=types_pb2.DT_STRING, strings=[b"x" * 40])
    assert proto.ByteSize() < 100
    with pytest.raises(RequestTooLarge, match="50000000 elements"):
        check_request({"s": proto}, RequestLimits())


@pytest.mark.parametrize("proto, message", [
    (_proto([], unknown_rank=True), "unknown rank"),
    (_proto([1] * 33), "33 dimensions; at most 32"),
    (_proto([2, -1]), "negative dimension"),
    (_proto([2], dtype=types_pb2.DT_RESOURCE), "dtype DT_RESOURCE"),
    (_proto([2], dtype=types_pb2.DT_VARIANT), "dtype DT_VARIANT"),
    (_proto([2], dtype=types_pb2.DT_QINT8), "dtype DT_QINT8"),
])
def test_impossible_shapes_and_dtypes_are_invalid_arguments(proto, message):
    with pytest.raises(ValueError, match=message) as error:
        check_request({"bad": proto}, LIMITS)
    assert not isinstance(error.value, RequestTooLarge) and "'bad'" in str(error.value)


def test_rank_32_is_allowed_and_every_readable_dtype_passes():
    check_request({"deep": _proto([1] * 32)}, LIMITS)
    for dtype in (tf.float16, tf.bfloat16, tf.float64, tf.int8, tf.uint64, tf.bool,
                  tf.complex128):
        check_request({"x": tf.make_tensor_proto(np.zeros([2, 2]), dtype=dtype)}, LIMITS)
    check_request({"x": tf.make_tensor_proto([[b"a", b"b"]] * 2)}, LIMITS)
