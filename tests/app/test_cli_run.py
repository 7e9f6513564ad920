"""`privrec run` as a user runs it (what `make run` calls), on the tiny data set."""
import os
import re
import subprocess
import sys

from tests.support.paths import ROOT


def test_privrec_run_prints_progress_summary_and_grpc_recommendations(tmp_path):
    privrec = os.path.join(os.path.dirname(sys.executable), "privrec")
    result = subprocess.run(
        [privrec, "run", "--size", "tiny", "--dev-key", "--train-steps", "40",
         "--work-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for component in ("MaskingExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"):
        assert f"finished: {component}" in out
    assert re.search(r"privacy\s+: ε = \d+\.\d+ at δ = ", out)
    assert "blessed" in out and "pushed" in out and "pipeline root" in out
    assert len(re.findall(r"^\s+\d+\. p\d{5}  score ", out, re.M)) == 10
    assert re.search(r"^eval recall\s+: @10 \d\.\d{4}, @50 \d\.\d{4}, @100 \d\.\d{4}$", out,
                     re.M)
    # Quiet: library warnings and logs go to the work dir's log file, named at start and end.
    log = tmp_path / "privrec.log"
    assert out.splitlines()[0] == f"[privrec] library logs go to {log} (--verbose shows them here)"
    assert out.splitlines()[-2] == f"[privrec] library logs: {log}"
    # The last line names the run report (privrec/app/report/), written before it is printed.
    report = tmp_path / "report" / "index.html"
    assert out.splitlines()[-1] == f"[privrec] run report: {report}"
    assert "Training and privacy" in report.read_text()
    assert len(out.splitlines()) <= 50, out
    assert not re.search(r"Warning|WARNING|absl|tensorflow", out), out
    logged = log.read_text(errors="replace")
    assert "WARNING" in logged or "Warning" in logged  # TFX's and TF's, where they belong
    assert "Exception ignored" not in logged and "Exception ignored" not in result.stderr
