"""Shared fixtures: one real pipeline run on the tiny generated data set, reused by tests."""
import contextlib
import logging
import os
import sys
import tempfile

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


@contextlib.contextmanager
def _output_to(path):
    """Sends this process's stdout/stderr (Python and C++ alike) to a file."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def run_temp_dir(log_path: str) -> str:
    """Where tiny_run's temporary files went (beside its log)."""
    return os.path.join(os.path.dirname(log_path), "tmp")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, pipeline_key):
    """The whole pipeline on the tiny data set plus canary PII rows (tests/support/canaries.py).

    Returns (config, progress lines, path of the run's log: stdout, stderr and Python logging).
    The run's temporary files go to `run_temp_dir(log path)` (Python's tempfile directory).
    """
    from components.masking import policy
    from pipeline import configs, local_runner
    from privrec.data import generator
    from tests.support import canaries
    work = tmp_path_factory.mktemp("tiny_run")
    config = configs.local_config(str(work), data_dir=str(work / "input"),
                                  train_steps=TINY_TRAIN_STEPS, masking_policy=policy.TINY_POLICY)
    generator.write_dataset(config.data_dir, "tiny")
    canaries.plant(config.interactions_dir)
    progress, log_path = [], str(work / "run.log")
    handler = logging.FileHandler(log_path)
    logging.getLogger().addHandler(handler)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    os.environ[pseudonymizer.KEY_ENV] = pipeline_key
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, run_temp_dir(log_path)
    os.makedirs(tempfile.tempdir)
    try:
        with _output_to(log_path):
            local_runner.run(config, printer=progress.append)
    finally:
        tempfile.tempdir = saved_tempdir
        del os.environ[pseudonymizer.KEY_ENV]
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)
        handler.close()
    return config, progress, log_path
