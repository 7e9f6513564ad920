"""`privrec run` on data that validation refuses: the run report is still written, with what the
run did (masking, validation, the state of each component) and the rest marked as not reached,
and its path printed before the refusal. The pipeline is stood in for (no Beam, no TFX run): its
runner records in MLMD what a run stopped by the AnomalyGate leaves (tests/support/
recorded_run.py) and raises the gate's error, so the command's own handling is what is tested."""
import json
import os
import re

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.validation.anomalies import DataAnomaliesError
from pipeline import local_runner
from privrec.app import cli
from privrec.app.report import anomalies, build, facts
from tests.support.recorded_run import RecordedRun

REFUSAL = ("data validation: feature 'event_type' (train split): Unexpected string values "
           "['view']")
MASKING = {"policy_version": "tiny-1", "policy_sha256": "ab" * 32,
           "pseudonym_key_fingerprint": "fp-1234", "rows_in": 500, "rows_out": 480,
           "rows_suppressed": 20, "rows_out_per_split": {"train": 400, "eval": 80},
           "columns": {"query": {"role": "free text", "action": "scrub",
                                 "non_empty_values_in": 120,
                                 "placeholders_inserted": {"[PHONE]": 7}}}}


def _anomalies(uri, entry, feature, what):
    found = anomalies_pb2.Anomalies()
    found.anomaly_info[feature].short_description = what
    found.anomaly_info[feature].description = f"{what} in {feature}"
    os.makedirs(os.path.join(uri, entry))
    with open(os.path.join(uri, entry, anomalies.FILE), "wb") as f:
        f.write(found.SerializeToString())
    return uri


def _record_a_run_stopped_by_the_gate(config):
    """MaskingExampleGen → StatisticsGen → ExampleValidator complete, the AnomalyGate failed."""
    root = config.pipeline_root
    run = RecordedRun(os.path.dirname(config.metadata_path))
    this = run.context(run.run_type, "2026-03-01T10:00:00")
    splits = {"split_names": '["train", "eval"]'}
    masking = os.path.join(root, "MaskingExampleGen", "masking_report", "1")
    os.makedirs(masking)
    with open(os.path.join(masking, facts.MASKING_JSON), "w", encoding="utf-8") as f:
        json.dump(MASKING, f)
    run.execution(this, "privrec.MaskingExampleGen", "MaskingExampleGen", [
        ("Examples", os.path.join(root, "MaskingExampleGen", "examples", "1"), {}, splits),
        (facts.MASKING_REPORT, masking, {})])
    run.execution(this, "tfx.StatisticsGen", "StatisticsGen", [
        ("ExampleStatistics", os.path.join(root, "StatisticsGen", "statistics", "2"), {},
         splits)])
    validated = _anomalies(os.path.join(root, "ExampleValidator", "anomalies", "3"),
                           "Split-train", "event_type", "Unexpected string values")
    run.execution(this, "tfx.ExampleValidator", "ExampleValidator",
                  [("ExampleAnomalies", validated, {})])
    run.execution(this, "privrec.AnomalyGate", "AnomalyGate", state=pb.Execution.FAILED,
                  settings={"schema_file": "pipeline/schema/tiny.pbtxt"})


def _stopped_by_the_gate(config, printer=print, **_):
    _record_a_run_stopped_by_the_gate(config)
    printer("[privrec] ✘ failed: AnomalyGate in 1s")
    raise DataAnomaliesError(REFUSAL)


def _section(html, key):
    start = html.index(f"id='{key}'")
    end = html.find("<section", start)
    return html[start:end if end > 0 else len(html)]


def test_a_run_that_validation_stops_still_writes_its_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(local_runner, "run", _stopped_by_the_gate)
    work = tmp_path / "work"
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", "--work-dir", str(work), "--data-dir", str(tmp_path / "data"),
                  "--time-window", "2026-01-01,2026-03-01"])
    assert stopped.value.code == f"privrec run: {REFUSAL}"  # the refusal, as before
    report = build.path(str(work))
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"[privrec] run report: {report}"
    html = open(report, encoding="utf-8").read()
    for key in ("summary", "data", "masking", "validation", "privacy", "evaluation", "release"):
        assert f"id='{key}'" in html, key
    assert "<td>rows in</td><td>500</td>" in _section(html, "masking")
    assert "<td>[PHONE]</td><td class='num'>7</td>" in _section(html, "masking")
    validation = _section(html, "validation")
    assert "<td>train</td><td>event_type</td><td>Unexpected string values</td>" in validation
    assert re.search(r"<td>AnomalyGate</td><td>failed</td>", validation)
    assert "failed: AnomalyGate" in _section(html, "summary")
    for key, what in (("data", "data inventory"), ("privacy", "trained model"),
                      ("evaluation", "evaluation of a model")):
        assert (f"Not reached: the run stopped when AnomalyGate failed; there is no {what}"
                in _section(html, key)), key
    assert "the run did not reach the Pusher" in _section(html, "release")


def test_a_finetune_that_validation_stops_still_writes_its_report(tmp_path, monkeypatch,
                                                                   capsys):
    """The same for `privrec finetune`: the model to continue is stood in for too (its checks
    run before the pipeline and are tested with a real model in tests/trainer/test_finetune)."""
    from trainer import catalog as catalog_lib, export
    monkeypatch.setattr(local_runner, "run", _stopped_by_the_gate)
    monkeypatch.setattr(export, "read_privacy_report", lambda model_dir: {"epsilon": 1.0})
    monkeypatch.setattr(export, "load_keras", lambda model_dir: None)
    monkeypatch.setattr(export, "check_same_catalog", lambda model, catalog, model_dir: None)
    monkeypatch.setattr(catalog_lib.Catalog, "load", classmethod(lambda cls, path: None))
    work = tmp_path / "work"
    with pytest.raises(SystemExit) as stopped:
        cli.main(["finetune", "--from", str(tmp_path / "serving" / "privrec" / "1"),
                  "--work-dir", str(work), "--data-dir", str(tmp_path / "data"),
                  "--time-window", "2026-01-01,2026-03-01"])
    assert stopped.value.code == f"privrec finetune: {REFUSAL}"
    report = build.path(str(work))
    assert capsys.readouterr().out.splitlines()[-1] == f"[privrec] run report: {report}"
    html = open(report, encoding="utf-8").read()
    assert "<td>[PHONE]</td><td class='num'>7</td>" in _section(html, "masking")
    assert re.search(r"<td>AnomalyGate</td><td>failed</td>", _section(html, "validation"))


def test_only_a_validation_stop_is_a_validation_refusal(monkeypatch):
    """common.run_pipeline names the validation stop (ValidationRefused, still a SystemExit
    with the refusal as its code); a run over the privacy budget ends the command as before."""
    from rich.console import Console
    from privrec.app.commands import common
    from privrec.privacy.span_ledger import PrivacyBudgetError

    def refused_by(error):
        def run(config, printer=print, **_):
            raise error
        return run

    monkeypatch.setattr(local_runner, "run", refused_by(DataAnomaliesError(REFUSAL)))
    with pytest.raises(common.ValidationRefused) as refused:
        common.run_pipeline(None, "run", Console(quiet=True))
    assert isinstance(refused.value, SystemExit)
    assert refused.value.code == f"privrec run: {REFUSAL}"
    monkeypatch.setattr(local_runner, "run", refused_by(PrivacyBudgetError("over budget")))
    with pytest.raises(SystemExit) as stopped:
        common.run_pipeline(None, "run", Console(quiet=True))
    assert not isinstance(stopped.value, common.ValidationRefused)
    assert stopped.value.code == "privrec run: over budget"
