"""Which status a failed request gets, the same for gRPC and REST.

Every error a request can cause has its TF Serving status code and a message naming what was
wrong; anything else is a bug of this server: logged once with its traceback, answered INTERNAL
with no detail, so a client never sees a traceback or UNKNOWN.
"""
from typing import Tuple

import grpc
import tensorflow as tf
from absl import logging

from serving import batching, in_flight, model_store, request_limits

_CODES = (
    (model_store.SignatureNotFound, grpc.StatusCode.FAILED_PRECONDITION),
    (model_store.ServableNotFound, grpc.StatusCode.NOT_FOUND),
    (request_limits.RequestTooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (in_flight.ServerBusy, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (MemoryError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (batching.DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (batching.Overloaded, grpc.StatusCode.UNAVAILABLE),
    ((ValueError, TypeError), grpc.StatusCode.INVALID_ARGUMENT),
)
_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}

# TF Serving's HTTP status for each code (its REST API maps them the same way).
HTTP_STATUS = {
    grpc.StatusCode.OK: 200, grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400, grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

INTERNAL_MESSAGE = "internal error; see the server log"


def status_for(error: BaseException, what: str = "request") -> Tuple[grpc.StatusCode, str]:
    """(code, message) for a request that raised `error`."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code, str(error)
    if isinstance(error, tf.errors.OpError):  # raised by the model: its own code
        code = _BY_VALUE.get(error.error_code, grpc.StatusCode.INTERNAL)
        if code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            return code, error.message
    logging.error("%s failed", what, exc_info=error)
    return grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)
