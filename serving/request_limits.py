"""What one Predict may make the server allocate, checked on what the request *declares* before
any array is built.

A TensorProto carries its shape apart from its values, and `tf.make_ndarray` repeats the last
value to fill the declared shape: a 90-byte request declaring 50,000,000 strings would cost
gigabytes before any check on the built tensor could refuse it. So the declared shape is checked
first (rank, no negative sizes, batch size, element count), then an estimate of the bytes the
decoded tensors take, summed over the request's inputs; only then is anything decoded.
"""
import dataclasses
from typing import Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from privrec import contract

MAX_RANK = 32                       # numpy's own limit on dimensions
MAX_REQUEST_ELEMENTS = 1 << 20      # summed over a request's inputs
MAX_REQUEST_BYTES = 64 << 20        # decoded size, summed over a request's inputs
STRING_ELEMENT_OVERHEAD = 32        # bytes a decoded string element costs beyond its content

# Dtypes a Predict input can carry as values (no resources, variants or quantized types).
_READABLE = frozenset({
    types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_HALF, types_pb2.DT_BFLOAT16,
    types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_INT32, types_pb2.DT_INT64,
    types_pb2.DT_UINT8, types_pb2.DT_UINT16, types_pb2.DT_UINT32, types_pb2.DT_UINT64,
    types_pb2.DT_BOOL, types_pb2.DT_STRING, types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128})


class RequestTooLarge(ValueError):
    """The request declares more elements or bytes than one request may take."""


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    max_batch_size: int = contract.SERVING_MAX_BATCH_SIZE
    max_elements: int = MAX_REQUEST_ELEMENTS
    max_bytes: int = MAX_REQUEST_BYTES


def _dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else str(dtype)


def declared_shape(name: str, proto: tensor_pb2.TensorProto, limits: RequestLimits) -> list:
    """The shape the proto declares, refused (ValueError naming the input) if it cannot be one."""
    if proto.tensor_shape.unknown_rank:
        raise ValueError(f"input '{name}' declares an unknown rank; give its shape")
    dims = [d.size for d in proto.tensor_shape.dim]
    if len(dims) > MAX_RANK:
        raise ValueError(f"input '{name}' has {len(dims)} dimensions; at most {MAX_RANK}")
    if any(d < 0 for d in dims):
        raise ValueError(f"input '{name}' declares a negative dimension: {dims}")
    if dims and dims[0] > limits.max_batch_size:
        raise ValueError(f"input '{name}' has batch size {dims[0]}, above this server's maximum "
                         f"of {limits.max_batch_size}; split the request")
    if proto.dtype not in _READABLE:
        raise ValueError(f"input '{name}' has dtype {_dtype_name(proto.dtype)}, which a Predict "
                         "input cannot carry")
    return dims


def _decoded_bytes(proto: tensor_pb2.TensorProto, elements: int) -> int:
    """What `tf.make_ndarray` and `tf.constant` would allocate for this proto, roughly."""
    if proto.dtype != types_pb2.DT_STRING:
        return elements * tf.dtypes.as_dtype(proto.dtype).size
    if proto.tensor_content:
        return len(proto.tensor_content) + elements * STRING_ELEMENT_OVERHEAD
    values = proto.string_val
    content = sum(len(v) for v in values)
    padding = max(0, elements - len(values))  # make_ndarray repeats the last value
    if padding and values:
        content += padding * len(values[-1])
    return content + elements * STRING_ELEMENT_OVERHEAD


def check_request(protos: Mapping[str, tensor_pb2.TensorProto], limits: RequestLimits) -> None:
    """Refuses a request whose declared shapes exceed the limits, before anything is decoded:
    ValueError (INVALID_ARGUMENT) for an impossible shape or batch size, RequestTooLarge
    (RESOURCE_EXHAUSTED) when the request as a whole would take too many elements or bytes."""
    elements_total = bytes_total = 0
    for name in sorted(protos):
        proto = protos[name]
        elements = int(np.prod(declared_shape(name, proto, limits), dtype=object))
        elements_total += elements
        if elements_total > limits.max_elements:
            raise RequestTooLarge(
                f"input '{name}' declares {elements} elements; with the inputs before it the "
                f"request exceeds this server's limit of {limits.max_elements} elements")
        bytes_total += _decoded_bytes(proto, elements)
        if bytes_total > limits.max_bytes:
            raise RequestTooLarge(
                f"input '{name}' would take {_decoded_bytes(proto, elements)} bytes decoded; "
                f"with the inputs before it the request exceeds this server's limit of "
                f"{limits.max_bytes} bytes")

