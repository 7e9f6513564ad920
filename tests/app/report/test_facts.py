"""privrec/app/report/facts.py: a small MLMD store written here the way a TFX run records one
(pipeline_run and node contexts, executions, OUTPUT events) and the JSON files at artifact URIs."""
import json
import os

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from privrec.app.report import facts


class _Run:
    """Writes one MLMD store under `work_dir` (sqlite, read-write)."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        os.makedirs(work_dir, exist_ok=True)
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = os.path.join(work_dir, facts.METADATA_FILE)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = mlmd.MetadataStore(config)
        self.run_type = self.store.put_context_type(pb.ContextType(name="pipeline_run"))
        self.node_type = self.store.put_context_type(pb.ContextType(name="node"))
        self.nodes = {}  # a node's context is shared by every run, as in TFX

    def type_id(self, name, kind):
        if kind == "artifact":
            return self.store.put_artifact_type(pb.ArtifactType(name=name))
        return self.store.put_execution_type(pb.ExecutionType(name=name))

    def context(self, type_id, name):
        context = pb.Context(type_id=type_id, name=name)
        context.id = self.store.put_contexts([context])[0]
        return context

    def execution(self, run, type_name, node=None, outputs=(), state=pb.Execution.COMPLETE,
                  settings=None):
        execution = pb.Execution(type_id=self.type_id(type_name, "execution"),
                                 last_known_state=state)
        for key, value in (settings or {}).items():
            if isinstance(value, int):
                execution.custom_properties[key].int_value = value
            else:
                execution.custom_properties[key].string_value = value
        if node and node not in self.nodes:
            self.nodes[node] = self.context(self.node_type, f"privrec.{node}")
        contexts = [run] + ([self.nodes[node]] if node else [])
        pairs = []
        for type_name, uri, props in outputs:
            artifact = pb.Artifact(type_id=self.type_id(type_name, "artifact"), uri=uri)
            for key, value in props.items():
                if isinstance(value, int):
                    artifact.custom_properties[key].int_value = value
                else:
                    artifact.custom_properties[key].string_value = value
            pairs.append((artifact, pb.Event(type=pb.Event.OUTPUT)))
        execution_id, artifact_ids, _ = self.store.put_execution(
            execution, pairs, contexts)
        return execution_id, artifact_ids

    def json(self, payload, *parts):
        path = os.path.join(self.work_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        return os.path.join(self.work_dir, parts[0])


def _full_run(tmp_path, pushed=1):
    run = _Run(str(tmp_path / "work"))
    old = run.context(run.run_type, "2026-01-01T00:00:00")
    run.execution(old, "tfx.Trainer", "Trainer",
                  [("Model", run.json({"epsilon": 99}, "old_model", facts.PRIVACY_JSON), {})])
    new = run.context(run.run_type, "2026-01-02T00:00:00")
    masking = run.json({"rows": 10}, "masking", facts.MASKING_JSON)
    run.execution(new, "privrec.Masking", "Masking", [(facts.MASKING_REPORT, masking, {})])
    inventory = run.json({"columns": {}}, "inventory", facts.INVENTORY_JSON)
    run.execution(new, "privrec.Inventory", "Inventory", [(facts.INVENTORY, inventory, {})])
    run.execution(new, "privrec.AnomalyGate", "AnomalyGate",
                  settings={"max_anomalies": 3, "policy": "strict"})
    first = run.json({"epsilon": 1.0}, "model_1", facts.PRIVACY_JSON)
    second = run.json({"epsilon": 2.0}, "model_2", facts.PRIVACY_JSON)
    run.json({"steps": 40}, "model_2", facts.TRAINING_JSON)
    run.json({"runs": []}, "model_2", facts.LEDGER_JSON)
    run.execution(new, "tfx.Trainer", "Trainer", [("Model", first, {}), ("Model", second, {})])
    destination = run.json({"name": "card"}, "serving", facts.CARD_JSON)
    run.execution(new, "tfx.Pusher", "Pusher", [("PushedModel", str(tmp_path / "pushed"), {
        "pushed": pushed, "pushed_destination": destination})], state=pb.Execution.CACHED)
    run.execution(new, "tfx.Evaluator", None, state=pb.Execution.FAILED)
    return run


def test_the_newest_runs_components_artifacts_and_files(tmp_path):
    run = _full_run(tmp_path)
    found = facts.collect(run.work_dir)
    assert found.work_dir == run.work_dir and found.run == "2026-01-02T00:00:00"
    assert found.components == [
        {"name": "Masking", "state": "COMPLETE"}, {"name": "Inventory", "state": "COMPLETE"},
        {"name": "AnomalyGate", "state": "COMPLETE"}, {"name": "Trainer", "state": "COMPLETE"},
        {"name": "Pusher", "state": "CACHED"}, {"name": "tfx.Evaluator", "state": "FAILED"}]
    assert found.anomaly_gate == {"max_anomalies": 3, "policy": "strict"}
    assert len(found.artifacts["Model"]) == 2  # the old run's model is not this run's
    assert found.masking == {"rows": 10} and found.inventory == {"columns": {}}
    assert found.privacy == {"epsilon": 2.0}  # the newer of the run's two models
    assert found.training == {"steps": 40} and found.ledger == {"runs": []}
    assert found.card == {"name": "card"}
    assert found.prop("PushedModel", "pushed") == 1 and found.prop("Model", "absent") is None
    assert found.latest("Examples") is None and found.prop("Examples", "x") is None


def test_a_model_that_was_not_pushed_has_no_card(tmp_path):
    found = facts.collect(_full_run(tmp_path, pushed=0).work_dir)
    assert found.card is None and found.privacy == {"epsilon": 2.0}


def test_files_a_run_did_not_write_are_none(tmp_path):
    run = _Run(str(tmp_path / "work"))
    only = run.context(run.run_type, "run")
    run.execution(only, "tfx.Trainer", "Trainer", [("Model", str(tmp_path / "empty"), {})])
    found = facts.collect(run.work_dir)
    assert (found.masking, found.inventory, found.privacy, found.training, found.ledger,
            found.card) == (None,) * 6
    assert found.anomaly_gate == {}


def test_no_store_or_no_run_is_a_lookup_error(tmp_path):
    with pytest.raises(LookupError, match="run the pipeline first"):
        facts.collect(str(tmp_path / "nothing"))
    _Run(str(tmp_path / "empty"))
    with pytest.raises(LookupError, match="no pipeline run recorded"):
        facts.collect(str(tmp_path / "empty"))


def test_the_runs_split_names_are_its_statistics(tmp_path):
    run = _Run(str(tmp_path / "work"))
    only = run.context(run.run_type, "run")
    run.execution(only, "tfx.Trainer", "Trainer", [("Model", str(tmp_path / "model"), {})])
    assert facts.collect(run.work_dir).split_names() == []
    type_id = run.store.put_artifact_type(pb.ArtifactType(  # as TFX declares the type
        name="ExampleStatistics", properties={"split_names": pb.STRING, "span": pb.INT}))
    statistics = pb.Artifact(type_id=type_id, uri=str(tmp_path / "statistics"))
    statistics.properties["split_names"].string_value = '["train", "eval_recent"]'
    run.store.put_execution(
        pb.Execution(type_id=run.type_id("tfx.StatisticsGen", "execution"),
                     last_known_state=pb.Execution.COMPLETE),
        [(statistics, pb.Event(type=pb.Event.OUTPUT))], [only])
    assert facts.collect(run.work_dir).split_names() == ["train", "eval_recent"]
