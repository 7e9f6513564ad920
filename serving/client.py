"""gRPC client for the served model: TF Serving's PredictionServiceStub, nothing privrec-only.

It works unchanged against a real tensorflow_model_server serving the Pusher's directory.
"""
from typing import List, Optional, Sequence, Tuple

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from pipeline import configs

TOKEN_ENV = "PRIVREC_SERVING_TOKEN"


def recommend(target: str, user_id: str, query: str, recent_item_ids: Sequence[str] = (),
              model_name: str = configs.MODEL_NAME, timeout: float = 30.0,
              token: Optional[str] = None) -> Tuple[int, List[Tuple[str, float]]]:
    """Asks the server at target (host:port) for one user's top-k; returns (version, items).
    `token` is sent as 'authorization: Bearer <token>' metadata."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = configs.SERVING_SIGNATURE
    for name, value in (("user_id", user_id), ("query", query),
                        ("recent_item_ids", " ".join(recent_item_ids))):
        request.inputs[name].CopyFrom(tf.make_tensor_proto([value], dtype=tf.string))
    with grpc.insecure_channel(target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=timeout,
            metadata=[("authorization", f"Bearer {token}")] if token else None)
    item_ids = tf.make_ndarray(response.outputs["item_ids"])[0]
    scores = tf.make_ndarray(response.outputs["scores"])[0]
    return response.model_spec.version.value, [
        (item.decode(), float(score)) for item, score in zip(item_ids, scores)]
