"""The loaded versions of one model and a Predict that gRPC and REST share.

`ModelStore` loads what the version policy selects under the base path (warmed up before it takes
traffic), unloads what it drops once in-flight requests finish, and records TF Serving's version
states; `predict` validates a request against the signature and runs it.
It stays one file past ~300 lines (issue #31): `predict` and `signature_metadata` are the
store's read side: they resolve the version with `ModelStore.get`, and `predict` holds the
`Servable` in use so that unloading it waits for the request.
"""
import contextlib
import dataclasses
import os
import threading
import time
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF Text ops the SavedModel uses)
from absl import logging
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_pb2,
                                    prediction_log_pb2)

from privrec import contract
from serving import batching, version_policy

STATE = get_model_status_pb2.ModelVersionStatus
_LOADING, _AVAILABLE, _UNLOADING, _END = (STATE.LOADING, STATE.AVAILABLE, STATE.UNLOADING,
                                          STATE.END)


class ServableNotFound(LookupError):
    pass


class SignatureNotFound(LookupError):
    """The version is served but has no such signature (TF Serving: FAILED_PRECONDITION)."""


def list_versions(base_path: str):
    if not os.path.isdir(base_path):
        return []
    return sorted(int(d) for d in os.listdir(base_path)
                  if d.isdigit() and os.path.exists(os.path.join(base_path, d, "saved_model.pb")))


class Servable:
    """One loaded version: the SavedModel's signatures and their SignatureDefs."""

    def __init__(self, path: str, version: int):
        self.version = version
        self.path = path
        self.model = tf.saved_model.load(path)
        saved_model = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved_model.ParseFromString(f.read())
        self.signature_defs = saved_model.meta_graphs[0].signature_def
        self._in_flight = 0
        self._idle = threading.Condition()

    def input_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
        if signature_name not in self.model.signatures:
            raise SignatureNotFound(f"signature '{signature_name}' not found; available: "
                                   f"{', '.join(sorted(self.model.signatures))}")
        return self.model.signatures[signature_name].structured_input_signature[1]

    def batchable(self, signature_name: str) -> bool:
        """Whether every input has a free first (batch) dimension, so requests concatenate."""
        return all(spec.shape.rank and spec.shape[0] is None
                   for spec in self.input_specs(signature_name).values())

    def run(self, signature_name: str, inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        self.validate(signature_name, inputs)
        return self.model.signatures[signature_name](**inputs)

    def validate(self, signature_name: str, inputs: Dict[str, tf.Tensor]) -> None:
        """ValueError naming the input unless `inputs` match the signature's names and specs."""
        expected = self.input_specs(signature_name)
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

    def warm_up(self) -> int:
        """Runs the recorded warm-up requests (assets.extra/tf_serving_warmup_requests, as TF
        Serving does) or, without them, one serving_default request of empty/zero values, so
        the first real request does not pay for tracing and table initialisation."""
        records = os.path.join(self.path, "assets.extra", "tf_serving_warmup_requests")
        if os.path.exists(records):
            count = 0
            for record in tf.data.TFRecordDataset(records).as_numpy_iterator():
                log = prediction_log_pb2.PredictionLog.FromString(record)
                request = log.predict_log.request
                self.run(request.model_spec.signature_name or contract.SERVING_SIGNATURE,
                         {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
                count += 1
            return count
        function = self.model.signatures.get(contract.SERVING_SIGNATURE)
        if function is None:
            return 0
        self.run(contract.SERVING_SIGNATURE,
                 {k: tf.zeros([1 if d is None else d for d in spec.shape], spec.dtype)
                  for k, spec in function.structured_input_signature[1].items()})
        return 1

    @contextlib.contextmanager
    def in_use(self):
        with self._idle:
            self._in_flight += 1
        try:
            yield self
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0)


class UnknownVersionLabel(ValueError):
    """A model_spec.version_label the model config does not define (TF Serving:
    INVALID_ARGUMENT)."""


def _missing_shards(path: str) -> List[str]:
    """Files of variables/ a complete SavedModel has but this directory lacks yet (a version
    still being copied): the index and every shard the shard names imply. A SavedModel without
    variables/ is left to the load attempt."""
    try:
        names = set(os.listdir(os.path.join(path, "variables")))
    except OSError:
        return []
    expected = {"variables.index"}
    shards = [n for n in names if n.startswith("variables.data-") and "-of-" in n]
    if not shards:
        expected.add("variables.data-00000-of-*")
    for name in shards:
        total = name.rsplit("-of-", 1)[1]
        if total.isdigit():
            expected.update(f"variables.data-{i:05d}-of-{total}" for i in range(int(total)))
    return sorted(f"variables/{n}" for n in expected - names)


def _content_signature(path: str) -> Tuple:
    """(file, size, mtime) of every file under `path`: changes whenever a copy progresses."""
    entries = []
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            entries.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


@dataclasses.dataclass
class _FailedLoad:
    attempts: int
    retry_at: float        # time.monotonic() seconds
    signature: Tuple       # the directory's content when it failed


RETRY_BASE_SECONDS = 1.0   # first retry at the next poll, then 2 s, 4 s, ...
RETRY_MAX_SECONDS = 60.0   # ... up to one retry a minute (TF Serving's default interval)


class ModelStore:
    """The versions under base_path that the version policy selects, loaded and warmed up before
    they take traffic; versions the policy drops are unloaded once their requests finish, but
    never the last one while no selected version could be loaded (TF Serving's
    availability-preserving policy).

    A version whose variables are still being copied is left alone until they are all there; a
    version that fails to load or warm up is retried at later polls with exponential back-off
    (at once when its files change), so a copy that finishes late is still served.
    `version_labels` ({"stable": 3}, from the model config file) name versions for
    model_spec.version_label.
    `states` holds TF Serving's ModelVersionStatus state (and an error) per version seen."""

    def __init__(self, model_name: str, base_path: str,
                 policy: version_policy.VersionPolicy = version_policy.VersionPolicy(),
                 version_labels: Optional[Mapping[str, int]] = None):
        self.model_name = model_name
        self.base_path = base_path
        self.policy = policy
        self.version_labels = dict(version_labels or {})
        self._servables: Dict[int, Servable] = {}
        self.states: Dict[int, Tuple[int, str]] = {}
        self._failed: Dict[int, _FailedLoad] = {}
        self._lock = threading.Lock()

    def _set_state(self, version: int, state: int, error: str = "") -> None:
        with self._lock:
            self.states[version] = (state, error)

    def refresh(self) -> Optional[int]:
        """Loads what the policy wants and is not loaded, unloads the rest; the newest version."""
        wanted = self.policy.select(list_versions(self.base_path))
        for version in wanted:
            if version not in self._servables:
                self._try_load(version)
        unwanted = set(self._servables) - set(wanted)
        if unwanted and not set(self._servables) & set(wanted):
            unwanted.discard(max(unwanted))  # availability first: keep serving until a new one loads
        for version in sorted(unwanted):
            with self._lock:
                servable = self._servables.pop(version)
                self.states[version] = (_UNLOADING, "")
            threading.Thread(target=self._unload, args=(servable,), daemon=True).start()
        return self.latest()

    def _try_load(self, version: int) -> None:
        path = os.path.join(self.base_path, str(version))
        missing = _missing_shards(path)
        if missing:  # still being copied: not even a failed attempt
            self._set_state(version, STATE.START, f"incomplete: waiting for {missing[0]}")
            return
        signature = _content_signature(path)
        failed = self._failed.get(version)
        if failed and failed.signature == signature and time.monotonic() < failed.retry_at:
            return  # failed, unchanged since, and backing off
        self._set_state(version, _LOADING)
        try:
            servable = Servable(path, version)
            servable.warm_up()
        except Exception as error:  # noqa: BLE001  a bad version must not stop the server
            attempts = failed.attempts + 1 if failed else 1
            delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
            self._failed[version] = _FailedLoad(attempts, time.monotonic() + delay, signature)
            if attempts == 1:
                logging.exception("Could not load %s version %d", self.model_name, version)
            else:
                logging.warning("Could not load %s version %d (attempt %d, next in %.0f s): %s",
                                self.model_name, version, attempts, delay, error)
            self._set_state(version, _END, f"{type(error).__name__}: {error}")
            return
        self._failed.pop(version, None)
        with self._lock:
            self._servables[version] = servable
            self.states[version] = (_AVAILABLE, "")
        logging.info("Serving %s version %d", self.model_name, version)

    def _unload(self, servable: Servable) -> None:
        servable.wait_idle()
        self._set_state(servable.version, _END)
        logging.info("Unloaded %s version %d", self.model_name, servable.version)

    def latest(self) -> Optional[int]:
        with self._lock:
            return max(self._servables) if self._servables else None

    def version_states(self, model_spec: model_pb2.ModelSpec) -> Dict[int, Tuple[int, str]]:
        """{version: (state, load error)} for every version seen, or the one asked for."""
        self._check_name(model_spec)
        states = dict(self.states)
        version = self._requested_version(model_spec)
        if version is not None:
            if version not in states:
                raise ServableNotFound(f"version {version} of '{self.model_name}' was never seen")
            states = {version: states[version]}
        return states

    def _requested_version(self, model_spec: model_pb2.ModelSpec) -> Optional[int]:
        """The version a model_spec names, by number or by label; None: the newest."""
        which = model_spec.WhichOneof("version_choice")
        if which == "version":
            return model_spec.version.value
        if which == "version_label":
            label = model_spec.version_label
            if label not in self.version_labels:
                raise UnknownVersionLabel(
                    f"unknown version label '{label}' for '{self.model_name}'; the model config "
                    "defines " + (", ".join(f"'{k}'" for k in sorted(self.version_labels))
                                  or "none"))
            return self.version_labels[label]
        return None

    def _check_name(self, model_spec: model_pb2.ModelSpec) -> None:
        if model_spec.name != self.model_name:
            raise ServableNotFound(f"model '{model_spec.name}' is not served; this server "
                                   f"serves '{self.model_name}'")

    def get(self, model_spec: model_pb2.ModelSpec) -> Servable:
        self._check_name(model_spec)
        with self._lock:
            if not self._servables:
                raise ServableNotFound(f"no version of '{self.model_name}' is available "
                                       f"under {self.base_path}")
            version = self._requested_version(model_spec)
            if version is None:
                return self._servables[max(self._servables)]
            if version not in self._servables:
                raise ServableNotFound(
                    f"version {version} of '{self.model_name}' is not available; available: "
                    f"{', '.join(map(str, sorted(self._servables)))}")
            return self._servables[version]


def check_batch_size(inputs: Dict[str, tf.Tensor], max_batch_size: int) -> None:
    for name, tensor in inputs.items():
        if tensor.shape.rank and tensor.shape[0] > max_batch_size:
            raise ValueError(f"input '{name}' has batch size {tensor.shape[0]}, above this "
                             f"server's maximum of {max_batch_size}; split the request")


def check_batch_sizes_match(inputs: Dict[str, tf.Tensor]) -> None:
    """Inputs of a batched signature are rows of the same examples: their first dimensions must
    agree, or the model fails deep in its graph with a message about its own ops."""
    sizes = {name: tensor.shape[0] for name, tensor in sorted(inputs.items())
             if tensor.shape.rank}
    if len(set(sizes.values())) > 1:
        raise ValueError("inputs have different batch sizes: " + ", ".join(
            f"'{name}' {size}" for name, size in sizes.items()) + "; every input needs one row "
            "per example")


def predict(store: ModelStore, model_spec: model_pb2.ModelSpec, inputs: Dict[str, Callable],
            max_batch_size: int, batcher: Optional[batching.Batcher] = None,
            deadline: Optional[float] = None) -> Tuple[int, str, Dict[str, np.ndarray]]:
    """Runs one Predict for gRPC and REST alike: (version, signature name, outputs).

    `inputs` maps each input name to a function of its TensorSpec that builds the tensor, so
    each API converts its own encoding with the signature's dtype; errors name the input.
    With a `batcher`, valid requests of a batchable signature run batched with others.
    `deadline` (time.monotonic() seconds): past it, the model is not run (DeadlineExceeded).
    """
    if deadline is not None and deadline <= time.monotonic():
        raise batching.DeadlineExceeded("the deadline passed before the request was read")
    servable = store.get(model_spec)
    with servable.in_use():  # an unloading version waits for this request
        signature = model_spec.signature_name or contract.SERVING_SIGNATURE
        specs = servable.input_specs(signature)
        tensors = {}
        for name, build in inputs.items():
            try:
                tensors[name] = build(specs.get(name))
            except Exception as error:  # noqa: BLE001  malformed values fail in many ways
                raise ValueError(f"input '{name}' cannot be read: {type(error).__name__}: "
                                 f"{error}") from error
        check_batch_size(tensors, max_batch_size)
        servable.validate(signature, tensors)
        if servable.batchable(signature):
            check_batch_sizes_match(tensors)
        rows = next(iter(tensors.values())).shape[0] if tensors else None
        if batcher is not None and rows and rows <= batcher.parameters.max_batch_size and \
                servable.batchable(signature) and \
                all(t.shape[0] == rows for t in tensors.values()):
            function = servable.model.signatures[signature]
            outputs = batcher.run((servable.version, signature), lambda x: function(**x),
                                  tensors, rows, deadline)
        else:
            outputs = {k: v.numpy() for k, v in
                       servable.model.signatures[signature](**tensors).items()}
        return servable.version, signature, outputs


def signature_metadata(store: "ModelStore", spec: model_pb2.ModelSpec
                       ) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """GetModelMetadata's answer (the signature defs of the version `spec` names), for the
    gRPC and the REST API alike."""
    servable = store.get(spec)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in servable.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature_def)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = store.model_name
    response.model_spec.version.value = servable.version
    response.metadata["signature_def"].Pack(signature_map)
    return response
