"""Request count and latency per API, method and status, and the requests in flight, in
Prometheus text format (prometheus_client; one registry per server). gRPC calls are measured by
a server interceptor, REST calls by the REST handler; both are served at
GET /monitoring/prometheus/metrics on the REST port, the path TF Serving uses."""
import time
from typing import Callable, Optional

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ServingMetrics:
    def __init__(self, model_name: str, in_flight: Optional[Callable[[], int]] = None):
        """`in_flight`: how many requests are being handled now (serving/in_flight.py)."""
        self.model_name = model_name
        self.registry = CollectorRegistry()
        self.requests = Counter("privrec_serving_requests", "Requests by API, method and status",
                                ["model", "api", "method", "status"], registry=self.registry)
        self.latency = Histogram("privrec_serving_request_latency_seconds",
                                 "Request latency by API and method", ["model", "api", "method"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        if in_flight is not None:
            Gauge("privrec_serving_requests_in_flight", "Requests being handled (gRPC and REST)",
                  ["model"], registry=self.registry).labels(model_name).set_function(in_flight)

    def observe(self, api: str, method: str, status: str, seconds: float) -> None:
        self.requests.labels(self.model_name, api, method, status).inc()
        self.latency.labels(self.model_name, api, method).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class GrpcMetricsInterceptor(grpc.ServerInterceptor):
    """Times every unary call and counts it under its final status code: the one the handler set
    (with or without raising), auth failures too when this interceptor comes first."""

    def __init__(self, metrics: ServingMetrics):
        self._metrics = metrics

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary

        def measured(request, context):
            start = time.perf_counter()
            failed = False
            try:
                return inner(request, context)
            except Exception:
                failed = True
                raise
            finally:  # a handler may set a code without raising (health: NOT_FOUND)
                code = context.code() or (grpc.StatusCode.UNKNOWN if failed
                                          else grpc.StatusCode.OK)
                self._metrics.observe("grpc", method, code.name, time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            measured, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
