"""`privrec run` as a user runs it (what `make run` calls), on the tiny data set."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    assert "Exception ignored" not in result.stderr
