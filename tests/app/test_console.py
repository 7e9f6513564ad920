"""privrec/app/console.py: quiet() moves fd 1 and 2 (C-level and child-process output too) to the
log file, names the file on the terminal, and gives errors back to the terminal."""
import io
import os
import subprocess
import sys
import textwrap

import pytest
from rich.console import Console

from privrec.app import console

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent("""
    import os, subprocess, sys, warnings
    from privrec.app import console
    log, fail = sys.argv[1], sys.argv[2] == "fail"
    print("before the block", flush=True)
    with console.quiet(log) as terminal:
        terminal.print("for the user")
        os.write(1, b"fd one\\n")
        os.write(2, b"fd two\\n")
        print("python stdout")
        print("python stderr", file=sys.stderr)
        warnings.warn("a library warning")
        subprocess.run(["sh", "-c", "echo child out; echo child err >&2"], check=True)
        if fail:
            raise RuntimeError("boom in the block")
    print("after the block", flush=True)
""")

QUIETED = ["fd one", "fd two", "python stdout", "python stderr", "a library warning",
           "child out", "child err"]


def _run(tmp_path, mode):
    log = str(tmp_path / "logs" / "privrec.log")  # its folder does not exist yet
    done = subprocess.run([sys.executable, "-c", SCRIPT, log, mode], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    with open(log, encoding="utf-8") as f:
        return done, f.read(), log


def test_fd_level_and_child_output_goes_to_the_log_which_is_named(tmp_path):
    done, logged, log = _run(tmp_path, "ok")
    assert done.returncode == 0, done.stderr
    for line in QUIETED:
        assert line in logged
        assert line not in done.stdout and line not in done.stderr
    out = done.stdout.splitlines()
    assert out == ["before the block", f"[privrec] library logs go to {log} (--verbose shows "
                   "them here)", "for the user", f"[privrec] library logs: {log}",
                   "after the block"]


def test_an_error_leaving_the_block_reaches_the_terminal(tmp_path):
    done, logged, _ = _run(tmp_path, "fail")
    assert done.returncode == 1
    assert "RuntimeError: boom in the block" in done.stderr
    assert "boom" not in logged and "child out" in logged
    assert "after the block" not in done.stdout


def test_verbose_redirects_nothing(tmp_path, capfd):
    log = tmp_path / "privrec.log"
    with console.quiet(str(log), verbose=True):
        os.write(1, b"visible\n")
    assert "visible" in capfd.readouterr().out
    assert not log.exists()


def test_component_progress_keeps_finished_lines_only():
    buffer = io.StringIO()
    terminal = Console(file=buffer, highlight=False, markup=False, soft_wrap=True)
    with console.ComponentProgress(terminal) as progress:
        progress("[privrec] ▶ running: Trainer")
        assert len(progress.tasks) == 1
        progress("[privrec] ▶ running: Evaluator")
        progress("[privrec] ✔ finished: Trainer in 12s")
        assert list(progress.tasks) == ["Evaluator"]
    printed = buffer.getvalue()
    assert "[privrec] ✔ finished: Trainer in 12s" in printed
    assert "finished: Evaluator" not in printed and "running" not in printed


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("where", ["a directory", "under a file", "read-only"])
def test_a_log_file_that_cannot_be_opened_is_named_and_leaks_no_descriptor(tmp_path, where):
    if where == "a directory":    # the folder is there, the file cannot be opened
        log = tmp_path / "privrec.log"
        log.mkdir()
    elif where == "under a file":  # the folder cannot be made
        (tmp_path / "work").write_text("")
        log = tmp_path / "work" / "privrec.log"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        (tmp_path / "work").mkdir(mode=0o500)
        log = tmp_path / "work" / "privrec.log"
    before = _open_fds()
    with pytest.raises(SystemExit) as stopped:
        with console.quiet(str(log)):
            raise AssertionError("the block must not run")
    assert _open_fds() == before
    message = str(stopped.value.code)
    assert message.startswith(f"privrec: cannot write the library log {log}: ")
    assert "--work-dir" in message and "--verbose" in message
    print("the terminal still works")  # fd 1 and 2 were never moved
