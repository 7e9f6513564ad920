"""The serving tests' small SavedModels with privrec's serving inputs (fast: no pipeline run),
and the gRPC calls the tests send them (Predict, GetModelStatus).

EchoModel's top-2 'items' are the query's first two words, scores their lengths; SlowEchoModel
answers the same after sleeping `int(user_id[0])` microseconds, so that a request stays in
flight as long as a test needs.
"""
import grpc
import tensorflow as tf
from tensorflow.python.data.experimental.ops import testing as tf_data_testing
from tensorflow_serving.apis import (get_model_status_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

MODEL = "privrec"
_INPUTS = [tf.TensorSpec([None], tf.string, name="user_id"),
           tf.TensorSpec([None], tf.string, name="query"),
           tf.TensorSpec([None], tf.string, name="recent_item_ids")]


def _first_two_words(query):
    return tf.strings.split(tf.strings.join([query, " - -"])).to_tensor("")[:, :2]


class EchoModel(tf.Module):
    """Top-2 'items' are the query's first two words, scores their lengths."""

    @tf.function(input_signature=_INPUTS)
    def serve(self, user_id, query, recent_item_ids):
        words = _first_two_words(query)
        return {"item_ids": words, "scores": tf.cast(tf.strings.length(words), tf.float32)}


class SlowEchoModel(tf.Module):
    """The echo model, sleeping `int(user_id[0])` microseconds first."""

    @tf.function(input_signature=_INPUTS)
    def serve(self, user_id, query, recent_item_ids):
        micros = tf.strings.to_number(tf.strings.join(["0", user_id[0]]), tf.int64)  # "": 0
        slept = tf.data.Dataset.range(1).apply(tf_data_testing.sleep(micros)).reduce(
            tf.constant(0, tf.int64), lambda total, x: total + x)
        words = _first_two_words(query)
        return {"item_ids": words,
                "scores": tf.cast(tf.strings.length(words) + tf.cast(slept, tf.int32),
                                  tf.float32)}


def save(path: str, model=EchoModel) -> str:
    """Saves a `model` (the class) at `path` (a version directory) with its serving_default."""
    module = model()
    tf.saved_model.save(module, path,
                        signatures={"serving_default": module.serve.get_concrete_function()})
    return path


def request(batch: int = 1, **overrides) -> predict_pb2.PredictRequest:
    """A good Predict request of `batch` rows for MODEL; `overrides` replace inputs (None drops
    one)."""
    found = predict_pb2.PredictRequest()
    found.model_spec.name = MODEL
    inputs = {"user_id": ["u"] * batch, "query": ["red shoes"] * batch,
              "recent_item_ids": [""] * batch}
    inputs.update(overrides)
    for name, value in inputs.items():
        if value is not None:
            found.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return found


def predict(address: str, request: predict_pb2.PredictRequest, metadata=None, timeout=20):
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=timeout, metadata=metadata)


def status(address: str, request: predict_pb2.PredictRequest, metadata=None):
    """(status code, details) of a Predict: (OK, '') when it is answered."""
    try:
        predict(address, request, metadata)
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def states(address: str, model: str = MODEL):
    """{version: GetModelStatus state} of `model` on the server at `address`."""
    with grpc.insecure_channel(address) as channel:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request,
                                                                                    timeout=5)
    return {s.version: s.state for s in response.model_version_status}
