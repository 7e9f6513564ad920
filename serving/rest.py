"""TF Serving's REST API next to the gRPC one, for curl users:

  POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict  {"instances": [...]} or
                                                             {"inputs": {...}}, "signature_name"
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]          version states (GetModelStatus)
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata signature defs (GetModelMetadata)
  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/catalog  the public catalog (item ids, titles)
  GET  /monitoring/prometheus/metrics                        counts and latencies (metrics.py)
  GET  /ui                                                   the try-it page (serving/ui/)

Same store, validation, limits, bearer tokens and in-flight cap as the gRPC server; errors are
{"error": "..."} with TF Serving's HTTP statuses (serving/status_codes.py).

It runs on waitress, whose I/O thread reads each request whole (headers and body, within size
limits) before a worker thread sees it: slow or half-open clients hold a socket each until the
idle timeout, never a worker; framing errors (bad Content-Length, oversized headers) are refused
by waitress itself. TLS is not served here: waitress has none, so put a TLS-terminating proxy in
front of the REST port (gRPC serves TLS itself).
"""
import base64
import dataclasses
import functools
import hashlib
import html
import json
import logging as logging_lib
import os
import re
import threading
import time
import weakref
from http import HTTPStatus
from typing import Callable, Dict, FrozenSet, Optional, Tuple

import tensorflow as tf
import waitress.server
from waitress import wasyncore
from absl import logging
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_status_pb2, model_pb2

from privrec import contract
from serving import (auth, batching, in_flight, metrics as metrics_lib, model_store,
                     request_limits, rest_json, status_codes)

_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)"
                         r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                         r"(?P<tail>:predict|/metadata|/catalog)?$")
_STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State.Name
CLIENT_CLOSED = 499  # nginx's status for a client that went away before its answer
UI_PATH = "/ui"
_UI_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui", "try_it.html")


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@functools.lru_cache(maxsize=4)
def try_it_page(model_name: str, token_required: bool) -> Tuple[bytes, Dict[str, str]]:
    """The try-it page for `model_name` and its headers: a Content-Security-Policy that lets
    only the page's own inline script and style run and fetch only from this origin."""
    with open(_UI_FILE, encoding="utf-8") as f:
        page = f.read().replace("{{MODEL_NAME}}", html.escape(model_name, quote=True)).replace(
            "{{TOKEN_REQUIRED}}", "yes" if token_required else "no")
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    policy = ("default-src 'none'; script-src " + " ".join(map(_csp_hash, scripts)) +
              "; style-src " + " ".join(map(_csp_hash, styles)) + "; connect-src 'self'; "
              "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return page.encode(), {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
                           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    """What the HTTP layer lets through before the API code runs."""
    idle_seconds: float = 30.0          # a connection sending nothing (or too slowly) is closed
    max_connections: int = 1000         # open sockets, idle ones included
    max_header_bytes: int = 64 * 1024
    workers: int = 4                    # threads running requests; the I/O thread is apart


class _Reply(Exception):
    def __init__(self, status: int, body, content_type: str = "application/json",
                 headers: Optional[Dict[str, str]] = None):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


class RestApi:
    """The WSGI application: routing, auth, limits and TF Serving's JSON conventions."""

    def __init__(self, store: model_store.ModelStore, limits: request_limits.RequestLimits,
                 max_body_bytes: int, metrics: metrics_lib.ServingMetrics,
                 tokens: Optional[FrozenSet[str]], batcher: Optional[batching.Batcher],
                 requests_in_flight: in_flight.InFlightLimit):
        self._store, self._limits, self._max_body_bytes = store, limits, max_body_bytes
        self._metrics, self._tokens, self._batcher = metrics, tokens, batcher
        self._in_flight = requests_in_flight
        # loaded version -> its catalog.json, parsed; an unloaded version's entry goes with it
        self._catalogs: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._catalogs_lock = threading.Lock()

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        headers: Dict[str, str] = {}
        try:
            status, body, content_type = self._route(environ, method, path)
        except _Reply as reply:
            status, body, content_type = reply.status, reply.body, reply.content_type
            headers = reply.headers
        except Exception as error:  # noqa: BLE001  every error becomes a status
            code, message = status_codes.status_for(error, f"REST {method}")
            status, body, content_type = (status_codes.http_status(code), {"error": message},
                                          "application/json")
        if not path.startswith(metrics_lib.PATH):
            phrase = "Client Closed Request" if status == CLIENT_CLOSED else \
                HTTPStatus(status).phrase
            self._metrics.observe("rest", method, phrase, time.perf_counter() - start)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        reason = "Client Closed Request" if status == CLIENT_CLOSED else HTTPStatus(status).phrase
        start_response(f"{status} {reason}", [("Content-Type", content_type),
                                              ("Content-Length", str(len(data))),
                                              *headers.items()])
        return [data]

    def _route(self, environ, method: str, path: str) -> Tuple[int, object, str]:
        if method == "GET" and path == metrics_lib.PATH:
            return 200, self._metrics.text(), metrics_lib.CONTENT_TYPE
        if method == "GET" and path in (UI_PATH, UI_PATH + "/"):
            # the page holds no data: it asks the API below, which checks the bearer token
            page, headers = try_it_page(self._store.model_name, bool(self._tokens))
            raise _Reply(200, page, "text/html; charset=utf-8", headers)
        match = _MODEL_PATH.match(path)
        if not match or (method == "POST") != (match["tail"] == ":predict") or \
                method not in ("GET", "POST"):
            raise _Reply(404, {"error": f"no such endpoint: {method} {path}"})
        self._authorise(environ.get("HTTP_AUTHORIZATION", ""))
        spec = model_pb2.ModelSpec(name=match["name"])
        if match["version"]:
            spec.version.value = int(match["version"])
        elif match["label"]:
            spec.version_label = match["label"]
        if method == "GET" and match["tail"] == "/metadata":
            with self._in_flight.slot():
                return 200, self._metadata(spec), "application/json"
        if method == "GET" and match["tail"] == "/catalog":
            with self._in_flight.slot():
                return 200, self._catalog(spec), "application/json"
        if method == "GET":
            return 200, self._status(spec), "application/json"
        with self._in_flight.slot():
            return 200, self._predict(environ, spec), "application/json"

    def _authorise(self, header: str) -> None:
        if not self._tokens:
            return
        refused = auth.refusal(self._tokens, header)
        if refused:
            raise _Reply(401 if refused == auth.UNAUTHENTICATED else 403, {"error": refused})

    def _read_body(self, environ) -> bytes:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > self._max_body_bytes:
            raise _Reply(413, {"error": f"request body of {length} bytes is above this server's "
                                        f"limit of {self._max_body_bytes}"})
        body = environ["wsgi.input"].read(self._max_body_bytes + 1)
        if len(body) > self._max_body_bytes:
            raise _Reply(413, {"error": f"request body is above this server's limit of "
                                        f"{self._max_body_bytes} bytes"})
        return body

    def _predict(self, environ, spec: model_pb2.ModelSpec) -> Dict:
        body = rest_json.parse(self._read_body(environ), self._limits.max_elements)
        signature_name = body.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise rest_json.JsonError("'signature_name' must be a string")
        spec.signature_name = signature_name
        values, row_format = rest_json.columns(body)
        inputs = {name: (lambda tensor_spec, v=value: tf.constant(
            v, dtype=tensor_spec.dtype if tensor_spec is not None else None))
            for name, value in values.items()}
        went_away = _disconnect_check(environ)
        if went_away():
            return self._dropped(spec)
        _, _, outputs = model_store.predict(self._store, spec, inputs,
                                            self._limits.max_batch_size, self._batcher)
        if went_away():
            return self._dropped(spec)
        return rest_json.predict_response(outputs, row_format)

    def _dropped(self, spec: model_pb2.ModelSpec):
        logging.warning("REST client of '%s' disconnected before its answer; dropped", spec.name)
        raise _Reply(CLIENT_CLOSED, {"error": "the client disconnected"})

    def _status(self, spec: model_pb2.ModelSpec) -> Dict:
        return {"model_version_status": [
            {"version": str(v), "state": _STATE_NAMES(state),
             "status": {"error_code": "UNKNOWN" if error else "OK", "error_message": error}}
            for v, (state, error) in sorted(self._store.version_states(spec).items(),
                                            reverse=True)]}

    def _metadata(self, spec: model_pb2.ModelSpec) -> Dict:
        return json_format.MessageToDict(model_store.signature_metadata(self._store, spec),
                                         preserving_proto_field_name=True)

    def _catalog(self, spec: model_pb2.ModelSpec) -> Dict:
        """The public catalog the version ranks (assets.extra/catalog.json, written by the
        trainer's export), read once per loaded version."""
        servable = self._store.get(spec)
        path = os.path.join(servable.path, "assets.extra", contract.CATALOG_FILE)
        with self._catalogs_lock:
            items = self._catalogs.get(servable)
        if items is None:
            if not os.path.exists(path):
                raise model_store.ServableNotFound(
                    f"version {servable.version} of '{self._store.model_name}' has no catalog "
                    f"(assets.extra/{contract.CATALOG_FILE}); models exported before the try-it "
                    "page lack it: export the model again to serve it")
            with open(path, encoding="utf-8") as f:
                items = [{"item_id": row["item_id"], "title": row["title"]}
                         for row in json.load(f)]
            with self._catalogs_lock:
                self._catalogs[servable] = items
        return {"model_version": str(servable.version), "items": items}


def _disconnect_check(environ) -> Callable[[], bool]:
    return environ.get("waitress.client_disconnected") or (lambda: False)


class RestServer:
    """RestApi on waitress: request-size limits, an idle timeout, a bounded worker pool."""

    def __init__(self, store, max_batch_size: int, max_message_bytes: int,
                 metrics: metrics_lib.ServingMetrics, host: str = "127.0.0.1", port: int = 0,
                 tokens: Optional[FrozenSet[str]] = None, tls=None,
                 batcher: Optional[batching.Batcher] = None,
                 limits: Optional[request_limits.RequestLimits] = None,
                 requests_in_flight: Optional[in_flight.InFlightLimit] = None,
                 http_limits: HttpLimits = HttpLimits()):
        if tls is not None:
            raise ValueError("the REST API is served without TLS (waitress has none): put a "
                             "TLS-terminating proxy in front of it, or leave --rest-port unset "
                             "and use gRPC, which serves TLS itself")
        self.api = RestApi(
            store, limits or request_limits.RequestLimits(max_batch_size=max_batch_size),
            max_message_bytes, metrics, tokens, batcher,
            requests_in_flight or in_flight.InFlightLimit())
        self._server = waitress.server.create_server(
            self.api, host=host, port=port, threads=http_limits.workers,
            connection_limit=http_limits.max_connections,
            channel_timeout=http_limits.idle_seconds,
            cleanup_interval=max(1, int(http_limits.idle_seconds / 4)),
            max_request_header_size=http_limits.max_header_bytes,
            # a hard cap for waitress; RestApi answers bodies above max_message_bytes with JSON
            max_request_body_size=2 * max_message_bytes + 64 * 1024,
            channel_request_lookahead=1,  # lets a request see its client disconnect
            asyncore_use_poll=True,       # select() fails past 1024 sockets
            expose_tracebacks=False, ident="privrec")
        # waitress logs each client that hangs up at INFO; RestApi logs it once, with context
        logging_lib.getLogger("waitress").setLevel(logging_lib.WARNING)
        self.port = self._server.effective_port
        self.address = f"{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="rest-io")

    def start(self) -> None:
        self._thread.start()

    def _in_io_thread(self, thunk: Callable[[], None]) -> None:
        self._server.trigger.pull_trigger(thunk)

    def stop_accepting(self) -> None:
        """Closes the listening socket; requests already read still get their answers."""
        self._in_io_thread(lambda: wasyncore.dispatcher.close(self._server))

    def stop(self) -> None:
        """Closes every connection and ends the I/O thread and the workers."""
        def close_all():
            for channel in list(self._server._map.values()):
                channel.close()
        self._in_io_thread(close_all)
        self._thread.join(5)
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
