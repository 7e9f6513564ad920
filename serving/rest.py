"""TF Serving's REST API next to the gRPC one, for curl users:

  POST /v1/models/{name}[/versions/{v}]:predict   {"instances": [...]} or {"inputs": {...}}
  GET  /v1/models/{name}[/versions/{v}]           version states, like GetModelStatus
  GET  /monitoring/prometheus/metrics             request counts and latencies (serving/metrics.py)

Same store, validation, limits, bearer tokens and TLS as the gRPC server; errors are
{"error": "..."} with 400 / 401 / 403 / 404 / 413, as TF Serving answers.
"""
import base64
import json
import re
import ssl
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, FrozenSet, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from serving import auth, batching, metrics as metrics_lib, model_store

_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                         r"(?P<verb>:predict)?$")
_STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State.Name


def _json_value(value):
    """numpy -> JSON: bytes as UTF-8 text, or {"b64": …} when they are not text (TF Serving)."""
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode()}
    return value.item() if isinstance(value, np.generic) else value


def _columns(body: Dict) -> Tuple[Dict[str, List], bool]:
    """(inputs by name, row format?) from a predict body in either of TF Serving's formats."""
    if ("instances" in body) == ("inputs" in body):
        raise ValueError("the body needs exactly one of 'instances' (row format) or 'inputs' "
                         "(columnar format)")
    if "inputs" in body:
        if not isinstance(body["inputs"], dict):
            raise ValueError("'inputs' must map input names to values")
        return body["inputs"], False
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise ValueError("'instances' must be a non-empty list")
    if not all(isinstance(i, dict) for i in instances):
        raise ValueError("each instance must be an object of named inputs")
    names = set(instances[0])
    for row, instance in enumerate(instances):
        if set(instance) != names:
            raise ValueError(f"instance {row} has inputs {sorted(instance)}, instance 0 has "
                             f"{sorted(names)}")
    return {name: [instance[name] for instance in instances] for name in names}, True


class RestServer:
    def __init__(self, store, max_batch_size: int, max_message_bytes: int,
                 metrics: metrics_lib.ServingMetrics, host: str = "127.0.0.1", port: int = 0,
                 tokens: Optional[FrozenSet[str]] = None, tls=None,
                 batcher: Optional[batching.Batcher] = None):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # request lines may carry query text: never logged
                pass

            def _reply(self, status: int, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if not tokens:
                    return True
                refused = auth.refusal(tokens, self.headers.get("Authorization", ""))
                if refused:
                    self._reply(401 if refused == auth.UNAUTHENTICATED else 403,
                                {"error": refused})
                return refused is None

            def _handle(self, method: str):
                start, status = time.perf_counter(), 500
                try:
                    status = self._route(method)
                except model_store.ServableNotFound as error:
                    status = 404
                    self._reply(status, {"error": str(error)})
                except batching.Overloaded as error:
                    status = 503
                    self._reply(status, {"error": str(error)})
                except (ValueError, TypeError, json.JSONDecodeError,
                        tf.errors.InvalidArgumentError) as error:
                    status = 400
                    self._reply(status, {"error": str(error)})
                except Exception:  # noqa: BLE001  answer, log, keep serving
                    logging.exception("REST %s failed", method)
                    self._reply(500, {"error": "internal error; see the server log"})
                finally:
                    if not self.path.startswith(metrics_lib.PATH):
                        metrics.observe("rest", method, HTTPStatus(status).phrase,
                                        time.perf_counter() - start)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def _route(self, method: str) -> int:
                if method == "GET" and self.path == metrics_lib.PATH:
                    self._reply(200, metrics.text(), metrics_lib.CONTENT_TYPE)
                    return 200
                match = _MODEL_PATH.match(self.path)
                if not match or (method == "POST") != bool(match["verb"]):
                    self._reply(404, {"error": f"no such endpoint: {method} {self.path}"})
                    return 404
                if not self._authorised():
                    return 401
                spec = model_pb2.ModelSpec(name=match["name"])
                if match["version"]:
                    spec.version.value = int(match["version"])
                if method == "GET":
                    self._reply(200, outer._status(spec))
                    return 200
                length = int(self.headers.get("Content-Length") or 0)
                if length > max_message_bytes:
                    self._reply(413, {"error": f"request body of {length} bytes is above this "
                                               f"server's limit of {max_message_bytes}"})
                    return 413
                body = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                spec.signature_name = body.get("signature_name", "")
                columns, rows = _columns(body)
                inputs = {name: (lambda tensor_spec, v=value: tf.constant(
                    v, dtype=tensor_spec.dtype if tensor_spec is not None else None))
                    for name, value in columns.items()}
                _, _, outputs = model_store.predict(store, spec, inputs, max_batch_size, batcher)
                outputs = {k: _json_value(v) for k, v in outputs.items()}
                if not rows:
                    self._reply(200, {"outputs": outputs})
                elif len(outputs) == 1:
                    self._reply(200, {"predictions": next(iter(outputs.values()))})
                else:
                    names = sorted(outputs)
                    self._reply(200, {"predictions": [dict(zip(names, values)) for values in
                                                      zip(*(outputs[n] for n in names))]})
                return 200

        self._store = store
        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls.certificate, tls.private_key)
            if tls.client_ca:
                context.load_verify_locations(tls.client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
            self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        self.address = f"{host}:{self.port}"

    def _status(self, spec: model_pb2.ModelSpec) -> Dict:
        return {"model_version_status": [
            {"version": str(v), "state": _STATE_NAMES(state),
             "status": {"error_code": "UNKNOWN" if error else "OK", "error_message": error}}
            for v, (state, error) in sorted(self._store.version_states(spec).items(),
                                            reverse=True)]}

    def start(self) -> None:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop_accepting(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def stop(self) -> None:
        pass
