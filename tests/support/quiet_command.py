"""A `privrec` study (audit, privacy-report) run as a user runs it: the installed script in a
process of its own, checked to be quiet like `privrec run` (library output in the work dir's log
file, named first and last; the run report's path the last line)."""
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from components.masking import pseudonymizer
from tests.support.paths import ROOT

PRIVREC = os.path.join(os.path.dirname(sys.executable), "privrec")


@dataclasses.dataclass(frozen=True)
class QuietRun:
    stdout: str
    page: str  # <work-dir>/report/index.html


def run(work: Path, *command: str) -> QuietRun:
    """`privrec <command> --work-dir work` with a fresh pseudonymisation key in the environment;
    fails the test unless it succeeds quietly."""
    env = {**os.environ, pseudonymizer.KEY_ENV: pseudonymizer.new_key_hex()}
    env.pop(pseudonymizer.KEY_FILE_ENV, None)
    result = subprocess.run([PRIVREC, *command, "--work-dir", str(work)], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = assert_quiet(result.stdout, work)
    assert not re.search(r"Warning|WARNING|absl", result.stdout), result.stdout
    assert "finished: Trainer" in result.stdout
    return QuietRun(result.stdout, report.read_text(encoding="utf-8"))


def assert_quiet(stdout: str, work) -> Path:
    """A quiet command's frame: the work dir's log file named first and second to last, the run
    report's path last. Returns that path."""
    lines, work = stdout.splitlines(), Path(work)
    log = work / "privrec.log"
    assert lines[0] == f"[privrec] library logs go to {log} (--verbose shows them here)", stdout
    assert lines[-2] == f"[privrec] library logs: {log}", stdout
    report = work / "report" / "index.html"
    assert lines[-1] == f"[privrec] run report: {report}", stdout
    return report
