"""The gates: an untrained model (compared with the last blessed one) is not blessed and not
pushed; a run that would take the pipeline's data over the ε budget is refused by the Trainer;
a model whose warm-start chain is over it is not blessed (Evaluator); a warm-started model is
blessed, with composed ε, and the pipeline's ledger composes every run.

Runs after test_pipeline_e2e (file order): it adds a run to the same pipeline and MLMD.
"""
import dataclasses
import os
import re

import numpy as np
import pytest

from components.masking import pseudonymizer
from components.model_card import card
from pipeline import configs, local_runner, run_summary
from privrec.app import cli
from serving import server
from tests.support import pipeline_models, serve_once
from privrec import contract
from privrec import privacy as privacy_lib
from trainer import export


def _relative_distance(model, reference) -> float:
    """||w - w_ref|| / ||w_ref|| over all trainable weights."""
    pairs = list(zip(model.trainable_weights, reference.trainable_weights))
    assert all(a.shape == b.shape for a, b in pairs)
    difference = sum(float(np.sum((a.numpy() - b.numpy()) ** 2)) for a, b in pairs)
    return (difference / sum(float(np.sum(b.numpy() ** 2)) for _, b in pairs)) ** 0.5


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
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


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_a_run_within_budget_alone_is_refused_when_the_pipelines_runs_compose_over_it(
        tiny_run, pipeline_key, monkeypatch):
    """Outside span mode too, the runs of one pipeline root train on the same users and compose
    (privrec/privacy/span_ledger.py): a run spending ε = 1 on its own, under a budget of 2, is refused
    by the Trainer before training, because with the earlier runs the data's ε exceeds 2."""
    config, *_ = tiny_run
    versions_before = server.list_versions(config.push_dir)
    models_before = pipeline_models.models(config.metadata_path)
    spent = pipeline_models.ledger(models_before[-1])["epsilon_by_span"]["0"]
    assert pipeline_models.ledger(models_before[-1])["runs"][-1]["spans"] == [0]

    # `privrec run` on the same work dir and data: ε = 1 on its own, a budget of 2.
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pipeline_key)
    with pytest.raises(SystemExit) as refusal:
        cli.main(["run", "--work-dir", os.path.dirname(config.pipeline_root), "--data-dir",
                  config.data_dir, "--policy", config.masking_policy, "--train-steps",
                  str(config.train_steps), "--target-epsilon", "1", "--epsilon-budget", "2"])
    assert re.fullmatch(
        r"privrec run: privacy budget: training on the data \(span 0: outside span mode every "
        r"run reads all of interactions/\) would bring its cumulative user-level ε to [\d.]+ "
        r"\(δ = .*, \d+ DP runs composed, \d+ earlier\), over PipelineConfig.epsilon_budget = "
        r"2.0\. Nothing was trained\. .*a new pipeline root starts a new ledger: right only for "
        r"data about other users\)\.", str(refusal.value.code)), refusal.value.code
    refused_epsilon = float(re.search(r"ε to ([\d.]+)", str(refusal.value.code)).group(1))
    assert refused_epsilon > spent > 2.0
    assert len(pipeline_models.models(config.metadata_path)) == len(models_before)
    assert server.list_versions(config.push_dir) == versions_before


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_model_whose_chain_is_over_the_epsilon_budget_is_not_blessed_and_not_pushed(
        tiny_run, pipeline_key, monkeypatch, tmp_path):
    """A new pipeline root starts an empty ledger, but a model continued from a pushed version
    carries its warm-start chain's ε (privacy.json): the Evaluator refuses it over the budget.
    Here the same data in a new root: its own run (ε = 1, calibrated) is within the budget of 2,
    the chain is not."""
    config, *_ = tiny_run
    start = os.path.join(config.push_dir, str(max(server.list_versions(config.push_dir))))
    continued = configs.local_config(
        str(tmp_path), data_dir=config.data_dir, train_steps=config.train_steps,
        masking_policy=config.masking_policy, epsilon_budget=2.0, recall_floor=0.0,
        recall_max_regression=1.0, trainer=dataclasses.replace(
            config.trainer, target_epsilon=1.0, init_from=start))
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pipeline_key)
    local_runner.run(continued, printer=lambda line: None)

    summary = run_summary.read(continued)
    assert summary.privacy["target_epsilon"] == 1.0
    assert 0.9 <= summary.privacy["epsilon_this_run"] <= 1.0 < 2.0 < summary.privacy["epsilon"]
    assert pipeline_models.latest_ledger(continued.metadata_path)["epsilon_by_span"]["0"] == \
        pytest.approx(summary.privacy["epsilon_this_run"])
    assert summary.metrics["privacy_epsilon"] == pytest.approx(summary.privacy["epsilon"],
                                                               rel=1e-6)
    assert not summary.blessed and not summary.pushed
    assert len(summary.gate_failures) == 1 and "privacy_epsilon" in summary.gate_failures[0]
    assert any("gate failed : privacy_epsilon" in line for line in summary.lines())
    assert not os.path.exists(continued.push_dir) or not server.list_versions(continued.push_dir)


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_warm_start_continues_the_blessed_model_and_composes_epsilon(tiny_run, pipeline_key,
                                                                     monkeypatch):
    """TrainerConfig.warm_start: the Trainer restores the last blessed model's weights, its ε
    covers both DP runs (RDP composition), and the new version is pushed and serves."""
    config, *_ = tiny_run
    earlier_ledger = pipeline_models.latest_ledger(config.metadata_path)
    blessed_version = max(server.list_versions(config.push_dir))
    blessed_dir = os.path.join(config.push_dir, str(blessed_version))
    blessed_privacy = export.read_privacy_report(blessed_dir)

    warm = dataclasses.replace(
        config, train_steps=10, recall_floor=0.0, recall_max_regression=1.0,
        trainer=dataclasses.replace(config.trainer, warm_start=True,
                                    noise_multiplier=2 * config.trainer.noise_multiplier))
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pipeline_key)
    local_runner.run(warm, printer=lambda line: None)

    summary = run_summary.read(warm)
    assert summary.pushed and int(summary.pushed_version) > blessed_version
    assert os.path.exists(os.path.join(blessed_dir, "saved_model.pb"))  # the old one stays
    privacy = summary.privacy
    assert privacy["runs"][0] == blessed_privacy["runs"][0] and len(privacy["runs"]) == 2
    assert privacy["runs"][1]["steps"] == 10
    assert privacy["epsilon"] > blessed_privacy["epsilon"]
    assert privacy["epsilon"] > privacy["epsilon_this_run"]
    # The model card of the new version follows the changed noise multiplier: its ε is the
    # accountant's for these runs, not the blessed model's.
    new_card = card.read(
        os.path.join(config.push_dir, summary.pushed_version))["differential_privacy"]
    old_card = card.read(blessed_dir)["differential_privacy"]
    assert new_card["noise_multiplier"] == 2 * config.trainer.noise_multiplier
    assert old_card["noise_multiplier"] == config.trainer.noise_multiplier
    expected = privacy_lib.account(
        privacy["runs"][1]["num_users"], privacy["runs"][1]["users_per_step"], 10,
        2 * config.trainer.noise_multiplier, config.trainer.l2_norm_clip,
        config.trainer.max_examples_per_user, summary.training["training_examples"],
        privacy["delta"], earlier_runs=[blessed_privacy["runs"][0]],
        user_count_noise_multiplier=privacy["user_count_noise_multiplier"])
    assert new_card["epsilon"] == pytest.approx(expected.epsilon)
    assert new_card["epsilon_this_run"] == pytest.approx(expected.epsilon_this_run)
    assert new_card["epsilon"] != old_card["epsilon"] and new_card["dp_runs"] == 2
    # The pipeline's ledger composes every run of this root (the untrained one too, which is not
    # in the warm-start chain), at least the chain's ε; the card shows both.
    ledger = pipeline_models.latest_ledger(config.metadata_path)
    assert ledger["runs"][:-1] == earlier_ledger["runs"] and ledger["runs"][-1]["steps"] == 10
    chain = [(r["num_users"], r["steps"], r["noise_multiplier"]) for r in privacy["runs"]]
    assert set(chain) <= {(r["num_users"], r["steps"], r["noise_multiplier"])
                          for r in ledger["runs"]}
    assert ledger["epsilon_by_span"]["0"] == pytest.approx(
        privacy_lib.composed_epsilon(ledger["runs"], privacy["delta"]))
    assert ledger["epsilon_by_span"]["0"] >= privacy["epsilon"] - 1e-9
    new_ledger_card = card.read(os.path.join(config.push_dir, summary.pushed_version))[
        "privacy_ledger"]
    assert new_ledger_card["trained_spans"] == [0]
    assert new_ledger_card["max_epsilon_of_trained_spans"] == ledger["epsilon_by_span"]["0"]
    assert new_ledger_card["dp_runs_composed"] == len(ledger["runs"])
    training = summary.training
    cold = export.read_training_summary(training["warm_started_from"])  # the blessed model's
    assert cold["warm_started_from"] is None
    # The pushed directory holds only what is released: the privacy report and the public
    # catalog; the training summary stays with the Model artifact.
    assert sorted(os.listdir(os.path.join(blessed_dir, "assets.extra"))) == sorted(
        [export.PRIVACY_FILE, contract.CATALOG_FILE])
    # Restored weights: 10 small steps from the blessed weights stay near them, while a fresh
    # initialisation of the same architecture is far (the eval losses are too noisy to tell).
    blessed = export.load_keras(blessed_dir)
    warm_model = export.load_keras(os.path.join(config.push_dir, summary.pushed_version))
    fresh = type(blessed).from_config(blessed.get_config())
    assert _relative_distance(warm_model, blessed) < 0.3 < 0.6 < _relative_distance(fresh, blessed)

    version, served_version, items = serve_once.recommend_once(config.push_dir)
    assert served_version == version == int(summary.pushed_version) and len(items) == 10
