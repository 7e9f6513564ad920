"""Runs the pipeline locally with LocalDagRunner, printing progress per component.

Progress is read from MLMD (each component's execution state), not from log lines, so it
shows whatever any library does to logging verbosity.
"""
import os
import threading

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import configs, root_lock
from privrec import beam_dependencies
from pipeline.pipeline import create_pipeline

_STATES = {metadata_store_pb2.Execution.RUNNING: "▶ running",
           metadata_store_pb2.Execution.COMPLETE: "✔ finished",
           metadata_store_pb2.Execution.CACHED: "✔ cached",
           metadata_store_pb2.Execution.FAILED: "✘ failed"}


class _ProgressWatcher(threading.Thread):
    def __init__(self, connection_config, printer, seconds: float = 1.0):
        super().__init__(daemon=True)
        self._connection_config = connection_config
        self._printer = printer
        self._seconds = seconds
        self._stop_event = threading.Event()
        self._seen = {}
        self._known_before = None

    def poll(self):
        store = mlmd.MetadataStore(self._connection_config)
        executions = sorted(store.get_executions(), key=lambda e: e.id)
        if self._known_before is None:
            self._known_before = {e.id for e in executions}
        for execution in executions:
            if execution.id in self._known_before:
                continue
            state = execution.last_known_state
            if self._seen.get(execution.id) == state or state not in _STATES:
                continue
            node = next((c.name.split(".")[-1] for c in store.get_contexts_by_execution(
                execution.id) if c.type == "node"), "component")
            elapsed = ""
            if state != metadata_store_pb2.Execution.RUNNING:
                elapsed = f" in {(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000:.0f}s"
            self._printer(f"[privrec] {_STATES[state]}: {node}{elapsed}")
            self._seen[execution.id] = state

    def run(self):
        while not self._stop_event.wait(self._seconds):
            self.poll()

    def stop(self):
        self._stop_event.set()
        self.join()
        self.poll()


def run(config: configs.PipelineConfig, printer=print, build=create_pipeline) -> None:
    """Runs `build(config, connection)` (the whole pipeline unless told otherwise), refusing
    while another run holds the pipeline root (root_lock)."""
    with root_lock.exclusive(config.pipeline_root):
        _run(config, printer, build)


def _run(config: configs.PipelineConfig, printer, build) -> None:
    beam_dependencies.skip_tfx_package_for_local_runners()  # also for hand-written Beam args
    os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    watcher = _ProgressWatcher(connection, printer)
    watcher.poll()  # remember executions of earlier runs
    watcher.start()
    try:
        tfx.orchestration.LocalDagRunner().run(build(config, connection))
    finally:
        watcher.stop()
