"""`privrec audit` and `privrec privacy-report` as a user runs them: quiet like `privrec run`
(library output in the work dir's log file, named first and last), the run report's path the
last line, and the page with the study's section beside the sections of its pipeline run."""
import os
import re
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

PRIVREC = os.path.join(os.path.dirname(sys.executable), "privrec")


def _quiet_run(tmp_path, *command):
    result = subprocess.run([PRIVREC, *command, "--size", "tiny", "--dev-key", "--train-steps",
                             "40", "--epsilon-budget", "30", "--work-dir", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    log = tmp_path / "privrec.log"
    assert lines[0] == f"[privrec] library logs go to {log} (--verbose shows them here)"
    assert lines[-2] == f"[privrec] library logs: {log}"
    report = tmp_path / "report" / "index.html"
    assert lines[-1] == f"[privrec] run report: {report}"
    assert not re.search(r"Warning|WARNING|absl", result.stdout), result.stdout
    assert "finished: Trainer" in result.stdout
    return result.stdout, report.read_text(encoding="utf-8")


@pytest.mark.heavy
def test_privrec_audit_is_quiet_and_reports_roc_curves(tmp_path):
    out, page = _quiet_run(tmp_path, "audit")
    assert "logistic_regression" in out
    assert "id='audit'><h2>Membership inference audit</h2>" in page
    assert "id='privacy'><h2>Training and privacy</h2>" in page  # the audit's pipeline run
    assert page.count("true positive rate") >= 4


@pytest.mark.heavy
def test_privrec_privacy_report_is_quiet_and_reports_the_curve(tmp_path):
    out, page = _quiet_run(tmp_path, "privacy-report", "--epsilons", "2,inf")
    assert "Recall@100" in out
    assert "id='utility'><h2>Privacy-utility curve</h2>" in page
    assert "no DP" in page
