"""The Evaluator gates: an untrained model (compared with the last blessed one) and a model over
the ε budget are not blessed and not pushed.

Runs after test_pipeline_e2e (file order): it adds a run to the same pipeline and MLMD.
"""
import dataclasses
import os

import pytest

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
    assert [f.split(" = ")[0] for f in second.gate_failures] == [
        "recall_at_10 change vs. last blessed"]
    assert server.list_versions(config.push_dir) == versions_before
    assert all(os.path.exists(os.path.join(config.push_dir, str(v), "saved_model.pb"))
               for v in versions_before)


def test_model_over_the_epsilon_budget_is_not_blessed_and_not_pushed(tiny_run, pipeline_key,
                                                                    monkeypatch):
    config, *_ = tiny_run
    versions_before = server.list_versions(config.push_dir)

    # Noise calibrated to spend ε = 3 (trainer/privacy.py), a budget of 2; recall thresholds
    # opened so only the privacy gate can refuse it.
    over_budget = dataclasses.replace(
        config, epsilon_budget=2.0, recall_floor=0.0, recall_max_regression=1.0,
        trainer=dataclasses.replace(config.trainer, target_epsilon=3.0))
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pipeline_key)
    local_runner.run(over_budget, printer=lambda line: None)

    summary = run_summary.read(over_budget)
    assert summary.privacy["target_epsilon"] == 3.0 and 2.9 <= summary.privacy["epsilon"] <= 3.0
    assert summary.privacy["noise_multiplier"] != config.trainer.noise_multiplier
    assert summary.metrics["privacy_epsilon"] == pytest.approx(summary.privacy["epsilon"],
                                                               rel=1e-6)
    assert not summary.blessed and not summary.pushed
    assert len(summary.gate_failures) == 1 and "privacy_epsilon" in summary.gate_failures[0]
    assert any("gate failed : privacy_epsilon" in line for line in summary.lines())
    assert server.list_versions(config.push_dir) == versions_before
