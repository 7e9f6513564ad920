"""privrec/app/report/facts.py: a small MLMD store written here the way a TFX run records one
(tests/support/recorded_run.py) and the JSON files at artifact URIs."""
import re

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from privrec.app.report import facts
from tests.support.recorded_run import RecordedRun


def _full_run(tmp_path, pushed=1):
    run = RecordedRun(str(tmp_path / "work"))
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
    run = RecordedRun(str(tmp_path / "work"))
    only = run.context(run.run_type, "run")
    run.execution(only, "tfx.Trainer", "Trainer", [("Model", str(tmp_path / "empty"), {})])
    found = facts.collect(run.work_dir)
    assert (found.masking, found.inventory, found.privacy, found.training, found.ledger,
            found.card) == (None,) * 6
    assert found.anomaly_gate == {}


def test_no_store_or_no_run_is_a_lookup_error(tmp_path):
    with pytest.raises(LookupError, match="run the pipeline first"):
        facts.collect(str(tmp_path / "nothing"))
    RecordedRun(str(tmp_path / "empty"))
    with pytest.raises(LookupError, match="no pipeline run recorded"):
        facts.collect(str(tmp_path / "empty"))


def test_the_runs_split_names_are_its_statistics(tmp_path):
    run = RecordedRun(str(tmp_path / "work"))
    only = run.context(run.run_type, "run")
    run.execution(only, "tfx.Trainer", "Trainer", [("Model", str(tmp_path / "model"), {})])
    assert facts.collect(run.work_dir).split_names() == []
    run.execution(only, "tfx.StatisticsGen", "StatisticsGen", [
        ("ExampleStatistics", str(tmp_path / "statistics"), {},
         {"split_names": '["train", "eval_recent"]'})])  # a declared property, as in TFX
    assert facts.collect(run.work_dir).split_names() == ["train", "eval_recent"]


def test_the_report_and_privrec_inventory_look_for_the_store_where_a_local_run_keeps_it(
        tmp_path, monkeypatch):
    """One definition of a local run's MLMD store (privrec.metadata_store.in_work_dir): the
    pipeline config writes it there, the report and `privrec inventory` read it there."""
    from pipeline import configs
    from privrec.app import cli
    work = str(tmp_path / "work")
    store = configs.local_config(work).metadata_path
    run = RecordedRun(work)
    assert run.store is not None and (tmp_path / "work" / "metadata.sqlite").exists()
    assert store == str(tmp_path / "work" / "metadata.sqlite")
    with pytest.raises(LookupError, match=re.escape(f"no pipeline run recorded in {store}")):
        facts.collect(work)
    with pytest.raises(SystemExit, match=re.escape(f"artifact in {store}: did the pipeline")):
        cli.main(["inventory", "--work-dir", work])
