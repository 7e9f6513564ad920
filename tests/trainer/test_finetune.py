"""Keras import and `privrec finetune`: a pushed version's Keras model loads with
tf.keras.models.load_model in a fresh process, and fine-tuning it with DP on new data lowers the
loss on that data, pushes a new version next to it that serves, and composes ε."""
import os
import shutil
import subprocess
import sys

import pytest

from components.masking import policy, pseudonymizer
from pipeline import configs, run_summary
from privrec.app import cli
from privrec.data import generator
from serving import server
from tests.support import serve_once
from trainer import export

_LOAD_IN_FRESH_PROCESS = """
import sys
import privrec  # Keras 2 and privrec's registered layers
import tensorflow as tf
model = tf.keras.models.load_model(sys.argv[1])
items = tf.constant([2, 3], tf.int64)
print(type(model).__name__, model.candidate_embedding(items).shape)
"""


@pytest.fixture(scope="module")
def pushed_copy(tiny_run, tmp_path_factory):
    """A copy of the tiny run's pushed version in a serving root of its own."""
    config, *_ = tiny_run
    version = max(server.list_versions(config.push_dir))
    copy = tmp_path_factory.mktemp("finetune") / "serving" / "privrec" / str(version)
    shutil.copytree(os.path.join(config.push_dir, str(version)), copy)
    return str(copy)


def test_keras_model_loads_with_tf_keras_in_a_fresh_process(pushed_copy):
    path = os.path.join(pushed_copy, export.KERAS_FILE)
    result = subprocess.run([sys.executable, "-c", _LOAD_IN_FRESH_PROCESS, path],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "TwoTowerModel (2, 32)"


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_finetune_on_new_data_lowers_its_loss_pushes_and_composes_epsilon(
        pushed_copy, tmp_path, monkeypatch, capsys):
    new_data = generator.write_dataset(str(tmp_path / "new"), "tiny", interactions_seed=1)
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    before = export.read_privacy_report(pushed_copy)
    base_path = os.path.dirname(pushed_copy)
    work_dir = str(tmp_path / "work")

    # Two user-level DP runs over the same 80 users compose beyond the default budget of 10.
    cli.main(["finetune", "--from", pushed_copy, "--data-dir", new_data, "--work-dir", work_dir,
              "--train-steps", "60", "--policy", policy.TINY_POLICY, "--epsilon-budget", "30"])

    config = configs.local_config(work_dir, data_dir=new_data)
    summary = run_summary.read(config)
    assert summary.pushed, "\n".join(summary.lines())
    assert summary.pushed_destination.startswith(base_path)
    versions = server.list_versions(base_path)
    assert versions == [int(os.path.basename(pushed_copy)), int(summary.pushed_version)]
    training = summary.training
    assert training["warm_started_from"] == pushed_copy
    assert training["eval_loss_after"] < training["eval_loss_before"] - 0.05, training
    privacy = summary.privacy
    assert privacy["runs"][:-1] == before["runs"] and privacy["runs"][-1]["steps"] == 60
    assert privacy["epsilon"] > before["epsilon"] and privacy["epsilon"] > privacy[
        "epsilon_this_run"]
    out = capsys.readouterr().out
    assert (f"cumulative ε = {privacy['epsilon']:.3f} over {len(before['runs']) + 1} DP runs"
            in out)

    version, served_version, items = serve_once.recommend_once(base_path)
    assert served_version == version == int(summary.pushed_version) and len(items) == 10


def test_finetune_refuses_another_catalog(pushed_copy, tmp_path, monkeypatch):
    other_shop = generator.write_dataset(str(tmp_path / "other"), "tiny", seed=8)
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    with pytest.raises(SystemExit, match="not the one the model in .* was trained on"):
        cli.main(["finetune", "--from", pushed_copy, "--data-dir", other_shop, "--work-dir",
                  str(tmp_path / "work"), "--train-steps", "2", "--policy", policy.TINY_POLICY])
