"""The Evaluator gate: an untrained model is compared with the last blessed one and not pushed.

Runs after test_pipeline_e2e (file order): it adds a run to the same pipeline and MLMD.
"""
import dataclasses
import os

from components.masking import pseudonymizer
from pipeline import local_runner, run_summary
from serving import server


def test_untrained_model_is_not_blessed_and_previous_version_stays(tiny_run, pipeline_key,
                                                                    monkeypatch):
    config, *_ = tiny_run
    first = run_summary.read(config)
    assert first.pushed, "the first (trained) model must have been pushed"
    versions_before = server.list_versions(config.push_dir)

    # Floor 0: only the no-regression threshold against the last blessed model can refuse it.
    untrained = dataclasses.replace(
        config, train_steps=2, recall_floor=0.0,
        trainer=dataclasses.replace(config.trainer, learning_rate=0.0))
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pipeline_key)
    local_runner.run(untrained, printer=lambda line: None)

    second = run_summary.read(untrained)
    assert second.metrics["recall_at_10"] < first.metrics["recall_at_10"] - 0.01
    assert not second.blessed and not second.pushed
    assert server.list_versions(config.push_dir) == versions_before
    assert all(os.path.exists(os.path.join(config.push_dir, str(v), "saved_model.pb"))
               for v in versions_before)
