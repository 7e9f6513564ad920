"""Shared fixtures: one real pipeline run on the tiny generated data set, reused by tests."""
import contextlib
import dataclasses
import os
import subprocess
import sys
import time

import privrec  # noqa: F401  (runtime switches, before TensorFlow)
import psutil
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


@dataclasses.dataclass(frozen=True)
class CliRun:
    """What `privrec run` left: its config, terminal output, library log and run summary."""
    config: object
    stdout: str
    stderr: str
    log_path: str
    summary: object  # pipeline.run_summary.RunSummary, read right after the run


@pytest.fixture(scope="session")
def tiny_cli_run(tmp_path_factory, pipeline_key) -> CliRun:
    """`privrec run` as a user runs it (the installed script, a process of its own) on the tiny
    data set plus canary PII rows (tests/support/canaries.py), the key in the environment.

    Python logging is at DEBUG (tests/support/debug_logging/sitecustomize.py), so the library
    log (<work dir>/privrec.log) holds everything a scan for PII must see; the run's temporary
    files go to `run_temp_dir(log path)` (TMPDIR).
    """
    from components.masking import policy
    from pipeline import run_summary
    from privrec.app import cli
    from privrec.data import generator
    from tests.support import canaries
    from tests.support.paths import ROOT
    work = tmp_path_factory.mktemp("tiny_run")
    argv = ["run", "--work-dir", str(work), "--data-dir", str(work / "input"),
            "--policy", policy.TINY_POLICY, "--train-steps", str(TINY_TRAIN_STEPS)]
    generator.write_dataset(str(work / "input"), "tiny")
    config = cli._config(cli.build_parser().parse_args(argv))  # the config the run will use
    canaries.plant(config.interactions_dir)
    log_path = str(work / "privrec.log")
    os.makedirs(run_temp_dir(log_path))
    debug_logging = os.path.join(ROOT, "tests", "support", "debug_logging")
    env = {**os.environ, pseudonymizer.KEY_ENV: pipeline_key, "TMPDIR": run_temp_dir(log_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [debug_logging,
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop(pseudonymizer.KEY_FILE_ENV, None)
    privrec_script = os.path.join(os.path.dirname(sys.executable), "privrec")
    result = subprocess.run([privrec_script, *argv], capture_output=True, text=True, cwd=ROOT,
                            env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return CliRun(config, result.stdout, result.stderr, log_path, run_summary.read(config))


@pytest.fixture(scope="session")
def tiny_run(tiny_cli_run):
    """The session's one tiny pipeline run (tiny_cli_run) as (config, terminal lines, path of
    the library log: stdout, stderr and Python logging at DEBUG)."""
    return tiny_cli_run.config, tiny_cli_run.stdout.splitlines(), tiny_cli_run.log_path


SHARED_RUN_FIXTURES = {"tiny_cli_run", "tiny_run"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    """Groups for pytest-xdist's `--dist loadgroup` (pyproject.toml): every test of the shared
    tiny run in one group, so one worker makes the run and its tests see it in file order as in
    one process (some add runs to its pipeline); any other test with the rest of its file, so a
    module's fixtures are built once."""
    for item in items:
        shared = SHARED_RUN_FIXTURES & set(item.fixturenames)
        group = "tiny_run" if shared else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


SLOW_SECONDS = 60  # a default-suite test slower than this belongs to `heavy`
_SLOW_TESTS = []


def pytest_runtest_logreport(report):
    """Notes default-suite tests whose own call (fixtures apart) took over SLOW_SECONDS."""
    if report.when == "call" and report.duration > SLOW_SECONDS \
            and "heavy" not in report.keywords:
        _SLOW_TESTS.append((report.duration, report.nodeid))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line: the suite's wall time (the whole pytest process), which markers ran and the outcome counts; then any
    default-suite test slower than SLOW_SECONDS."""
    seconds = time.time() - psutil.Process().create_time()  # since pytest's process started
    counts = ", ".join(f"{len(terminalreporter.stats[key])} {key}" for key in (
        "passed", "failed", "error", "skipped", "deselected") if terminalreporter.stats.get(key))
    markers = config.getoption("markexpr") or "(no marker filter)"
    terminalreporter.write_line(
        f"[privrec] suite time {int(seconds // 60)} min {seconds % 60:.0f} s, "
        f"markers -m '{markers}': {counts or 'nothing ran'}")
    for duration, nodeid in sorted(_SLOW_TESTS, reverse=True):
        terminalreporter.write_line(f"[privrec] over {SLOW_SECONDS} s outside `heavy` "
                                    f"({duration:.0f} s): {nodeid}")
