"""`privrec run` as a user runs it (what `make run` calls), on the tiny data set: the session's
tiny run (tests/conftest.py, tiny_cli_run), checked against what the run itself recorded."""
import os
import re

from tests.support import quiet_command
from trainer import catalog as catalog_lib


def test_privrec_run_prints_progress_summary_and_grpc_recommendations(tiny_cli_run):
    run, out = tiny_cli_run, tiny_cli_run.stdout
    lines = out.splitlines()
    for component in ("MaskingExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"):
        assert re.search(rf"finished: {component} in \d", out), out
    # The summary block is the run's own record in MLMD and the pipeline root, line for line.
    summary = list(run.summary.lines())
    assert run.summary.blessed and run.summary.pushed, summary
    assert any(line.startswith("eval recall") for line in summary), summary
    start = lines.index("==== privrec run summary ====")
    assert lines[start + 1:start + 1 + len(summary)] == summary, out
    version = run.summary.pushed_version
    assert re.search(rf"^\[privrec\] gRPC server on 127\.0\.0\.1:\d+ serving version {version}$",
                     out, re.M), out
    assert f"recommendations (over gRPC, version {version}) for a user" in out
    # Ten served items of the run's catalog, with their titles, best first.
    catalog = catalog_lib.Catalog.load(run.config.catalog_path)
    titles = dict(zip(catalog.item_ids, catalog.titles))
    served = re.findall(r"^\s+(\d+)\. (\S+)  score (-?\d+\.\d{3})  (.*)$", out, re.M)
    assert [int(rank) for rank, *_ in served] == list(range(1, 11)), out
    assert all(titles[item] == title for _, item, _, title in served), served
    assert len({item for _, item, _, _ in served}) == 10
    scores = [float(score) for _, _, score, _ in served]
    assert scores == sorted(scores, reverse=True), scores
    # Quiet: library warnings and logs go to the work dir's log file, named at start and end.
    work = os.path.dirname(run.config.metadata_path)
    log = os.path.join(work, "privrec.log")
    assert run.log_path == log
    # The last line names the run report (privrec/app/report/), written before it is printed.
    page = quiet_command.assert_quiet(out, work).read_text(encoding="utf-8")
    assert "Training and privacy" in page
    assert len(lines) <= 50, out
    assert not re.search(r"Warning|WARNING|absl|tensorflow", out), out
    with open(log, errors="replace") as f:
        logged = f.read()
    assert "WARNING" in logged or "Warning" in logged  # TFX's and TF's, where they belong
    assert "Exception ignored" not in logged and "Exception ignored" not in run.stderr
