"""A gRPC model server speaking TF Serving's API (PredictionService, ModelService), with TF
Serving's REST API and Prometheus metrics on a second port (serving/rest.py).

No tensorflow_model_server binary can be installed here, so this serves the Pusher's
directory (<base_path>/<version>/saved_model.pb) with the protos and stubs of
tensorflow-serving-api: a client written for TF Serving works against it unchanged.
Versions are loaded and unloaded by serving/model_store.py, polling the base path. It also runs
the standard gRPC health service (SERVING once a version is loaded), limits the batch and
message size, and optionally requires TLS and a bearer token (serving/auth.py).
"""
import dataclasses
import threading
import time
from concurrent import futures
from typing import Callable, Dict, FrozenSet, Optional, Tuple

import grpc
import tensorflow as tf
from absl import logging
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from privrec import contract
from serving import (auth, batching, in_flight, metrics as metrics_lib, model_store,
                     request_limits, rest, status_codes, version_policy)
from serving.model_store import ModelStore, ServableNotFound, list_versions, predict  # noqa: F401


def _answer(context, method: str, handle: Callable[[], object]):
    """`handle()`'s response, or the request's error as its status code (never UNKNOWN)."""
    try:
        return handle()
    except Exception as error:  # noqa: BLE001  every error becomes a status, none a traceback
        code, message = status_codes.status_for(error, f"gRPC {method}")
    context.abort(code, message)


class _Unreadable:
    """A request message that did not parse."""

    def __init__(self, message: str):
        self.message = message


def _tolerant(message_class):
    """A deserializer that hands an unparsable message to the handler (which answers
    INVALID_ARGUMENT) instead of failing inside gRPC, which answers INTERNAL."""
    def deserialize(data: bytes):
        try:
            return message_class.FromString(data)
        except Exception as error:  # noqa: BLE001  DecodeError, and whatever else bytes cause
            return _Unreadable(f"the request is not a valid {message_class.DESCRIPTOR.full_name}"
                               f": {error}")
    return deserialize


def _readable(request):
    if isinstance(request, _Unreadable):
        raise ValueError(request.message)
    return request


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore, max_batch_size: int = contract.SERVING_MAX_BATCH_SIZE,
                 batcher: Optional[batching.Batcher] = None,
                 limits: Optional[request_limits.RequestLimits] = None,
                 requests_in_flight: Optional[in_flight.InFlightLimit] = None):
        self._store = store
        self._limits = limits or request_limits.RequestLimits(max_batch_size=max_batch_size)
        self._batcher = batcher
        self._in_flight = requests_in_flight or in_flight.InFlightLimit()

    def Predict(self, request, context):
        remaining = context.time_remaining()  # None: the client set no deadline
        deadline = None if remaining is None else time.monotonic() + remaining
        return _answer(context, "Predict", lambda: self._predict(_readable(request), deadline))

    def _predict(self, request, deadline: Optional[float]) -> predict_pb2.PredictResponse:
        with self._in_flight.slot():
            request_limits.check_request(request.inputs, self._limits)  # before decoding
            inputs = {name: (lambda spec, proto=proto: tf.constant(tf.make_ndarray(proto)))
                      for name, proto in request.inputs.items()}
            version, signature, outputs = predict(
                self._store, request.model_spec, inputs, self._limits.max_batch_size,
                self._batcher, deadline)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self._store.model_name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signature
        wanted = set(request.output_filter) or set(outputs)
        for name in sorted(wanted):
            if name not in outputs:
                raise ValueError(f"output_filter names '{name}', which the signature lacks")
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    def GetModelMetadata(self, request, context):
        return _answer(context, "GetModelMetadata",
                       lambda: self._metadata(_readable(request)))

    def _metadata(self, request) -> get_model_metadata_pb2.GetModelMetadataResponse:
        self._store.get(request.model_spec)  # NOT_FOUND before a malformed field is named
        if list(request.metadata_field) != ["signature_def"]:
            raise ValueError("metadata_field must be exactly ['signature_def']")
        return model_store.signature_metadata(self._store, request.model_spec)


def _prediction_handlers(service: PredictionService) -> grpc.GenericRpcHandler:
    """PredictionService's Predict and GetModelMetadata, with tolerant deserializers (the other
    methods are unimplemented, as gRPC answers for unknown methods)."""
    def handler(method, request_class):
        return grpc.unary_unary_rpc_method_handler(
            method, request_deserializer=_tolerant(request_class),
            response_serializer=lambda response: response.SerializeToString())
    return grpc.method_handlers_generic_handler("tensorflow.serving.PredictionService", {
        "Predict": handler(service.Predict, predict_pb2.PredictRequest),
        "GetModelMetadata": handler(service.GetModelMetadata,
                                    get_model_metadata_pb2.GetModelMetadataRequest)})


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore):
        self._store = store

    def GetModelStatus(self, request, context):
        """Every version seen (LOADING, AVAILABLE, UNLOADING, END; a failed load is END with its
        error), or the one asked for."""
        states = _answer(context, "GetModelStatus",
                         lambda: self._store.version_states(request.model_spec))
        response = get_model_status_pb2.GetModelStatusResponse()
        for version, (state, error) in sorted(states.items(), reverse=True):
            status = response.model_version_status.add(version=version, state=state)
            if error:
                status.status.error_code = error_codes_pb2.UNKNOWN
                status.status.error_message = error
        return response


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server's certificate chain and key; with `client_ca`, clients must present
    a certificate signed by it (mutual TLS)."""
    certificate: str
    private_key: str
    client_ca: Optional[str] = None

    def credentials(self) -> grpc.ServerCredentials:
        def read(path):
            with open(path, "rb") as f:
                return f.read()
        return grpc.ssl_server_credentials(
            [(read(self.private_key), read(self.certificate))],
            root_certificates=read(self.client_ca) if self.client_ca else None,
            require_client_auth=self.client_ca is not None)


DRAIN_SECONDS = 10.0  # how long a stopping server lets calls in flight finish


class ModelServer:
    """Starts the gRPC server on `port` (0: any free port) and polls for new versions.

    `policy`: which versions to serve (serving/version_policy.py; default the newest one).
    `rest_port`: also serve TF Serving's REST API and /monitoring/prometheus/metrics there
    (0: any free port; None: no REST; plaintext only, see serving/rest.py); `rest_limits`: its
    HTTP timeouts, connection and worker limits.
    `tokens`: accepted bearer tokens (None: no auth, e.g. behind an authenticating proxy).
    `tls`: serve over TLS (None: plaintext, for localhost or behind a TLS-terminating proxy).
    `batching_parameters`: batch concurrent Predicts (serving/batching.py; None: no batching).
    `limits`: what one request may declare (serving/request_limits.py; default: max_batch_size
    and that module's element and byte budgets).
    `max_in_flight`: requests handled at once, gRPC and REST together; more are refused with
    RESOURCE_EXHAUSTED (serving/in_flight.py).
    `version_labels`: {"stable": 3, …} for model_spec.version_label (the model config's).
    """

    def __init__(self, model_name: str, base_path: str, port: int = contract.SERVING_PORT,
                 host: str = "127.0.0.1", poll_seconds: float = 5.0, workers: int = 8,
                 max_batch_size: int = contract.SERVING_MAX_BATCH_SIZE,
                 max_message_bytes: int = contract.SERVING_MAX_MESSAGE_BYTES,
                 tokens: Optional[FrozenSet[str]] = None, tls: Optional[TlsFiles] = None,
                 policy: version_policy.VersionPolicy = version_policy.VersionPolicy(),
                 rest_port: Optional[int] = None,
                 batching_parameters: Optional[batching.BatchingParameters] = None,
                 limits: Optional[request_limits.RequestLimits] = None,
                 max_in_flight: int = in_flight.MAX_IN_FLIGHT,
                 version_labels: Optional[Dict[str, int]] = None,
                 rest_limits: rest.HttpLimits = rest.HttpLimits()):
        self.limits = limits or request_limits.RequestLimits(max_batch_size=max_batch_size)
        self.requests_in_flight = in_flight.InFlightLimit(max_in_flight)
        self.store = ModelStore(model_name, base_path, policy, version_labels)
        self.batcher = batching.Batcher(batching_parameters) if batching_parameters else None
        self.metrics = metrics_lib.ServingMetrics(
            model_name, in_flight=lambda: self.requests_in_flight.count)
        interceptors = [metrics_lib.GrpcMetricsInterceptor(self.metrics)]
        if tokens:
            interceptors.append(auth.BearerTokenInterceptor(tokens))
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers), interceptors=interceptors,
            maximum_concurrent_rpcs=max_in_flight,  # queued calls count: they hold their message
            options=[("grpc.max_receive_message_length", max_message_bytes),
                     ("grpc.max_send_message_length", max_message_bytes)])
        self._server.add_generic_rpc_handlers([_prediction_handlers(PredictionService(
            self.store, batcher=self.batcher, limits=self.limits,
            requests_in_flight=self.requests_in_flight))])
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.store),
                                                                  self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._set_health(None)
        self.port = (self._server.add_secure_port(f"{host}:{port}", tls.credentials()) if tls
                     else self._server.add_insecure_port(f"{host}:{port}"))
        self.address = f"{host}:{self.port}"
        self.rest = None if rest_port is None else rest.RestServer(
            self.store, max_batch_size, max_message_bytes, self.metrics, host, rest_port,
            tokens, tls, self.batcher, self.limits, self.requests_in_flight, rest_limits)
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()

    def _set_health(self, version: Optional[int]) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if version is not None
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for service in ("", self.store.model_name):  # '' = the whole server
            self.health.set(service, status)

    def _poll(self):
        while not self._stopped.wait(self._poll_seconds):
            try:
                self._set_health(self.store.refresh())
            except Exception:  # a half-written version must not take the server down
                logging.exception("Could not load a new version from %s", self.store.base_path)

    def start(self) -> Tuple[str, Optional[int]]:
        version = self.store.refresh()
        self._set_health(version)
        if self.rest:
            self.rest.start()
        self._server.start()
        threading.Thread(target=self._poll, daemon=True).start()
        return self.address, version

    def stop(self, grace: float = DRAIN_SECONDS) -> bool:
        """Drains, as on SIGTERM: health turns NOT_SERVING and stays so, new connections and
        calls are refused, calls in flight get up to `grace` seconds to finish (then gRPC
        cancels them). True if every call finished in time."""
        deadline = time.monotonic() + grace
        self._stopped.set()
        grpc_stopped = self._server.stop(grace)
        self.health.enter_graceful_shutdown()
        if self.rest:
            self.rest.stop_accepting()
        drained = self.requests_in_flight.wait_idle(grace)
        grpc_stopped.wait(max(0.0, deadline - time.monotonic()) + 1.0)
        if self.rest:
            self.rest.stop()
        if self.batcher:
            self.batcher.stop()
        if not drained:
            logging.warning("%d requests were still running after the %.1f s grace period",
                            self.requests_in_flight.count, grace)
        return drained

    def wait(self) -> None:
        self._server.wait_for_termination()
