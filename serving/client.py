"""gRPC client for the served model: TF Serving's PredictionServiceStub, nothing privrec-only.

It works unchanged against a real tensorflow_model_server serving the Pusher's directory.
"""
from typing import List, Optional, Sequence, Tuple

import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from privrec import contract

TOKEN_ENV = "PRIVREC_SERVING_TOKEN"


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _channel(target: str, tls_ca: Optional[str], tls_client: Optional[Tuple[str, str]]):
    if tls_ca is None:
        return grpc.insecure_channel(target)
    certificate, key = (_read(tls_client[0]), _read(tls_client[1])) if tls_client else (None, None)
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(
        root_certificates=_read(tls_ca), private_key=key, certificate_chain=certificate))


def recommend(target: str, user_id: str, query: str, recent_item_ids: Sequence[str] = (),
              model_name: str = contract.MODEL_NAME, timeout: float = 30.0,
              token: Optional[str] = None, tls_ca: Optional[str] = None,
              tls_client: Optional[Tuple[str, str]] = None
              ) -> Tuple[int, List[Tuple[str, float]]]:
    """Asks the server at target (host:port) for one user's top-k; returns (version, items).

    `token` is sent as 'authorization: Bearer <token>' metadata. `tls_ca` (PEM path) switches to
    TLS, trusting that CA; `tls_client` = (certificate, key) PEM paths for mutual TLS.
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = contract.SERVING_SIGNATURE
    for name, value in (("user_id", user_id), ("query", query),
                        ("recent_item_ids", " ".join(recent_item_ids))):
        request.inputs[name].CopyFrom(tf.make_tensor_proto([value], dtype=tf.string))
    with _channel(target, tls_ca, tls_client) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=timeout,
            metadata=[("authorization", f"Bearer {token}")] if token else None)
    item_ids = tf.make_ndarray(response.outputs["item_ids"])[0]
    scores = tf.make_ndarray(response.outputs["scores"])[0]
    return response.model_spec.version.value, [
        (item.decode(), float(score)) for item, score in zip(item_ids, scores)]
