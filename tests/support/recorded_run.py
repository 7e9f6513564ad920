"""A small MLMD store written the way a TFX run records one (pipeline_run and node contexts,
executions, OUTPUT events), with the JSON files at artifact URIs: what the run report reads
(privrec/app/report/facts.py), without running a pipeline."""
import json
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2 as pb

from privrec import metadata_store


class RecordedRun:
    """Writes one MLMD store under `work_dir` (sqlite, read-write)."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        os.makedirs(work_dir, exist_ok=True)
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = metadata_store.in_work_dir(work_dir)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = mlmd.MetadataStore(config)
        self.run_type = self.store.put_context_type(pb.ContextType(name="pipeline_run"))
        self.node_type = self.store.put_context_type(pb.ContextType(name="node"))
        self.nodes = {}  # a node's context is shared by every run, as in TFX

    def type_id(self, name, kind, properties=()):
        """An artifact or execution type's id; `properties`: its declared (string) ones."""
        if kind == "artifact":
            return self.store.put_artifact_type(
                pb.ArtifactType(name=name, properties={p: pb.STRING for p in properties}),
                can_add_fields=True, can_omit_fields=True)
        return self.store.put_execution_type(pb.ExecutionType(name=name))

    def context(self, type_id, name):
        context = pb.Context(type_id=type_id, name=name)
        context.id = self.store.put_contexts([context])[0]
        return context

    def execution(self, run, type_name, node=None, outputs=(), state=pb.Execution.COMPLETE,
                  settings=None):
        """One execution of `run`; `outputs`: (type name, uri, custom properties) or (type name,
        uri, custom properties, declared string properties, e.g. split_names) per artifact."""
        execution = pb.Execution(type_id=self.type_id(type_name, "execution"),
                                 last_known_state=state)
        _set(execution.custom_properties, settings or {})
        if node and node not in self.nodes:
            self.nodes[node] = self.context(self.node_type, f"privrec.{node}")
        contexts = [run] + ([self.nodes[node]] if node else [])
        pairs = []
        for type_name, uri, custom, *declared in outputs:
            declared = declared[0] if declared else {}
            artifact = pb.Artifact(type_id=self.type_id(type_name, "artifact", declared), uri=uri)
            _set(artifact.custom_properties, custom)
            _set(artifact.properties, declared)
            pairs.append((artifact, pb.Event(type=pb.Event.OUTPUT)))
        execution_id, artifact_ids, _ = self.store.put_execution(
            execution, pairs, contexts)
        return execution_id, artifact_ids

    def json(self, payload, *parts):
        """Writes `payload` at work_dir/<parts>; returns work_dir/<first part> (an artifact URI)."""
        path = os.path.join(self.work_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        return os.path.join(self.work_dir, parts[0])


def _set(properties, values):
    for key, value in values.items():
        if isinstance(value, int):
            properties[key].int_value = value
        else:
            properties[key].string_value = value
