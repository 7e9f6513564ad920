"""A PredictionService that answers every Predict with a fixed top-K response, running no model.

The transport floor for bench/serving_latency.py: the same grpcio server setup as `privrec
serve` (thread pool, message limits) and a response of the same shape (item_ids and scores
[1, K]), so a client's latency against it is what Python gRPC costs before any model runs.

    .venv/bin/python bench/grpc_noop_server.py --port 8600 --top-k 100
"""
import argparse
import os
import sys
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)
import grpc  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from pipeline import configs  # noqa: E402


def fixed_response(top_k: int) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    response.outputs["item_ids"].CopyFrom(tf.make_tensor_proto(
        np.array([[f"m{i:05d}".encode() for i in range(top_k)]], dtype=object)))
    response.outputs["scores"].CopyFrom(tf.make_tensor_proto(
        np.linspace(1.0, 0.0, top_k, dtype=np.float32)[None, :]))
    return response


class NoopPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, top_k: int):
        self._response = fixed_response(top_k)

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        response = predict_pb2.PredictResponse()
        response.CopyFrom(self._response)
        response.model_spec.CopyFrom(request.model_spec)
        return response


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        options=[("grpc.max_receive_message_length", configs.SERVING_MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", configs.SERVING_MAX_MESSAGE_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        NoopPredictionService(args.top_k), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
