"""serving/status_codes.py on its own: each error a request can cause gets its TF Serving code
and its own message; a model's OpError keeps its code; anything else is INTERNAL, undetailed."""
import grpc
import pytest
import tensorflow as tf

from serving import batching, in_flight, model_store, request_limits, status_codes


@pytest.mark.parametrize("error, code", [
    (model_store.SignatureNotFound("no signature 'x'"), grpc.StatusCode.FAILED_PRECONDITION),
    (model_store.ServableNotFound("no model 'm'"), grpc.StatusCode.NOT_FOUND),
    (request_limits.RequestTooLarge("over 4 MB"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (in_flight.ServerBusy("64 requests"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (batching.DeadlineExceeded("deadline passed"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (batching.Overloaded("queue full"), grpc.StatusCode.UNAVAILABLE),
    (ValueError("bad dtype"), grpc.StatusCode.INVALID_ARGUMENT),
    (TypeError("bad type"), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_request_errors_keep_their_message_under_their_code(error, code):
    assert status_codes.status_for(error) == (code, str(error))


def test_a_models_op_error_keeps_its_code_unless_internal():
    error = tf.errors.InvalidArgumentError(None, None, "indices out of range")
    assert status_codes.status_for(error) == (grpc.StatusCode.INVALID_ARGUMENT,
                                              "indices out of range")
    internal = tf.errors.InternalError(None, None, "kernel crashed at 0xdeadbeef")
    assert status_codes.status_for(internal) == (grpc.StatusCode.INTERNAL,
                                                 status_codes.INTERNAL_MESSAGE)


def test_a_bug_is_internal_with_no_detail():
    code, message = status_codes.status_for(KeyError("secret internals"))
    assert code == grpc.StatusCode.INTERNAL and "secret" not in message


def test_http_statuses_are_tf_servings():
    assert [status_codes.http_status(c) for c in (
        grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL)] == [
        200, 400, 404, 429, 503, 504, 500]
