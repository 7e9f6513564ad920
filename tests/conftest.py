"""Shared fixtures: one real pipeline run on the tiny generated data set, reused by tests."""
import os
import sys

import privrec  # noqa: F401  (runtime switches, before TensorFlow)
import pytest

from components.masking import pseudonymizer

TINY_TRAIN_STEPS = 40

# TFX's Beam executors parse sys.argv with absl flags, where pytest's own `-v` means
# --verbosity: hand them a clean command line.
sys.argv = sys.argv[:1]


@pytest.fixture(scope="session")
def pipeline_key():
    return pseudonymizer.new_key_hex()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, pipeline_key):
    """Generates the tiny data set and runs the whole pipeline on it; returns the config."""
    from components.masking import policy
    from pipeline import configs, local_runner
    from privrec.data import generator
    work = tmp_path_factory.mktemp("tiny_run")
    config = configs.local_config(str(work), data_dir=str(work / "input"),
                                  train_steps=TINY_TRAIN_STEPS, masking_policy=policy.TINY_POLICY)
    generator.write_dataset(config.data_dir, "tiny")
    progress = []
    os.environ[pseudonymizer.KEY_ENV] = pipeline_key
    try:
        local_runner.run(config, printer=progress.append)
    finally:
        del os.environ[pseudonymizer.KEY_ENV]
    return config, progress
