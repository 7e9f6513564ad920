"""A gRPC model server speaking TF Serving's API (PredictionService, ModelService).

No tensorflow_model_server binary can be installed here, so this serves the Pusher's
directory (<base_path>/<version>/saved_model.pb) with the protos and stubs of
tensorflow-serving-api: a client written for TF Serving works against it unchanged.
It loads the newest version at start and polls the base path for newer ones. It also runs the
standard gRPC health service (SERVING once a version is loaded), limits the batch and message
size, and optionally requires a bearer token (serving/auth.py).
"""
import dataclasses
import os
import threading
from concurrent import futures
from typing import Dict, FrozenSet, Optional, Tuple

import grpc
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the SavedModel uses)
from absl import logging
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from pipeline import configs
from serving import auth

_AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


class ServableNotFound(LookupError):
    pass


def list_versions(base_path: str):
    if not os.path.isdir(base_path):
        return []
    return sorted(int(d) for d in os.listdir(base_path)
                  if d.isdigit() and os.path.exists(os.path.join(base_path, d, "saved_model.pb")))


class Servable:
    """One loaded version: the SavedModel's signatures and their SignatureDefs."""

    def __init__(self, path: str, version: int):
        self.version = version
        self.model = tf.saved_model.load(path)
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
        self.signature_defs = saved_model.meta_graphs[0].signature_def

    def run(self, signature_name: str, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        if signature_name not in self.model.signatures:
            raise ServableNotFound(f"signature '{signature_name}' not found; available: "
                                   f"{', '.join(sorted(self.model.signatures))}")
        function = self.model.signatures[signature_name]
        expected = function.structured_input_signature[1]
        missing = sorted(set(expected) - set(inputs))
        unknown = sorted(set(inputs) - set(expected))
        if missing or unknown:
            raise ValueError(f"signature '{signature_name}' expects inputs "
                             f"{', '.join(sorted(expected))}; missing: {missing or 'none'}, "
                             f"unexpected: {unknown or 'none'}")
        for name, spec in expected.items():
            if inputs[name].dtype != spec.dtype or not spec.shape.is_compatible_with(
                    inputs[name].shape):
                raise ValueError(f"input '{name}' must be {spec.dtype.name} of shape "
                                 f"{spec.shape}, got {inputs[name].dtype.name} of shape "
                                 f"{inputs[name].shape}")
        return function(**inputs)


class ModelStore:
    """Holds the newest version under base_path; `refresh` loads a newer one if it appeared."""

    def __init__(self, model_name: str, base_path: str):
        self.model_name = model_name
        self.base_path = base_path
        self._servable: Optional[Servable] = None
        self._lock = threading.Lock()

    def refresh(self) -> Optional[int]:
        versions = list_versions(self.base_path)
        current = self._servable.version if self._servable else None
        if versions and versions[-1] != current:
            servable = Servable(os.path.join(self.base_path, str(versions[-1])), versions[-1])
            with self._lock:
                self._servable = servable
            logging.info("Serving %s version %d", self.model_name, versions[-1])
        return self._servable.version if self._servable else None

    def get(self, model_spec: model_pb2.ModelSpec) -> Servable:
        if model_spec.name != self.model_name:
            raise ServableNotFound(f"model '{model_spec.name}' is not served; this server "
                                   f"serves '{self.model_name}'")
        with self._lock:
            servable = self._servable
        if servable is None:
            raise ServableNotFound(f"no version of '{self.model_name}' under {self.base_path}")
        if model_spec.HasField("version") and model_spec.version.value != servable.version:
            raise ServableNotFound(f"version {model_spec.version.value} of '{self.model_name}' "
                                   f"is not loaded; loaded: {servable.version}")
        return servable


def _abort_for(context, error: Exception):
    if isinstance(error, ServableNotFound):
        context.abort(grpc.StatusCode.NOT_FOUND, str(error))
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))


def _check_batch_size(inputs: Dict[str, tf.Tensor], max_batch_size: int) -> None:
    for name, tensor in inputs.items():
        if tensor.shape.rank and tensor.shape[0] > max_batch_size:
            raise ValueError(f"input '{name}' has batch size {tensor.shape[0]}, above this "
                             f"server's maximum of {max_batch_size}; split the request")


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore, max_batch_size: int = configs.SERVING_MAX_BATCH_SIZE):
        self._store = store
        self._max_batch_size = max_batch_size

    def Predict(self, request, context):
        try:
            servable = self._store.get(request.model_spec)
            signature = request.model_spec.signature_name or configs.SERVING_SIGNATURE
            inputs = {}
            for name, proto in request.inputs.items():
                try:
                    inputs[name] = tf.constant(tf.make_ndarray(proto))
                except (TypeError, ValueError) as error:
                    raise ValueError(f"input '{name}' is not a valid TensorProto: {error}")
            _check_batch_size(inputs, self._max_batch_size)
            outputs = servable.run(signature, inputs)
        except (ServableNotFound, ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
            _abort_for(context, error)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self._store.model_name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature
        wanted = set(request.output_filter) or set(outputs)
        for name in wanted:
            if name not in outputs:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"output_filter names '{name}', which the signature lacks")
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name].numpy()))
        return response

    def GetModelMetadata(self, request, context):
        try:
            servable = self._store.get(request.model_spec)
        except ServableNotFound as error:
            _abort_for(context, error)
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "metadata_field must be exactly ['signature_def']")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in servable.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self._store.model_name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore):
        self._store = store

    def GetModelStatus(self, request, context):
        try:
            servable = self._store.get(request.model_spec)
        except ServableNotFound as error:
            _abort_for(context, error)
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add()
        status.version = servable.version
        status.state = _AVAILABLE
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


class ModelServer:
    """Starts the gRPC server on `port` (0: any free port) and polls for new versions.

    `tokens`: accepted bearer tokens (None: no auth, e.g. behind an authenticating proxy).
    `tls`: serve over TLS (None: plaintext, for localhost or behind a TLS-terminating proxy).
    """

    def __init__(self, model_name: str, base_path: str, port: int = configs.SERVING_PORT,
                 host: str = "127.0.0.1", poll_seconds: float = 5.0, workers: int = 8,
                 max_batch_size: int = configs.SERVING_MAX_BATCH_SIZE,
                 max_message_bytes: int = configs.SERVING_MAX_MESSAGE_BYTES,
                 tokens: Optional[FrozenSet[str]] = None, tls: Optional[TlsFiles] = None):
        self.store = ModelStore(model_name, base_path)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers),
            interceptors=[auth.BearerTokenInterceptor(tokens)] if tokens else [],
            options=[("grpc.max_receive_message_length", max_message_bytes),
                     ("grpc.max_send_message_length", max_message_bytes)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.store, max_batch_size), self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.store),
                                                                  self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._set_health(None)
        self.port = (self._server.add_secure_port(f"{host}:{port}", tls.credentials()) if tls
                     else self._server.add_insecure_port(f"{host}:{port}"))
        self.address = f"{host}:{self.port}"
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
        self._server.start()
        threading.Thread(target=self._poll, daemon=True).start()
        return self.address, version

    def stop(self, grace: float = 2.0) -> None:
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait()

    def wait(self) -> None:
        self._server.wait_for_termination()
