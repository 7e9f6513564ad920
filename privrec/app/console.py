"""A quiet terminal for long commands: one line per component with a live spinner, elapsed
time and the component's own progress (privrec/progress.py) while it runs, every library's
output (Python warnings, absl/TFX logs, TensorFlow's C++ logs) in a log file in the work dir.

`quiet(log_path)` moves this process's stdout and stderr (file descriptors 1 and 2, so C++
output too) to the log file and returns a rich Console on the real terminal for what the user
should see. Errors still reach the terminal in full: the descriptors are restored before an
exception leaves the block, so Python prints it (and `sys.exit` messages) where the user looks.
"""
import contextlib
import io
import os
import sys
from typing import Iterator, Optional

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from privrec import progress as progress_channel

LOG_FILE = "privrec.log"


@contextlib.contextmanager
def quiet(log_path: str, verbose: bool = False) -> Iterator[Console]:
    """Library output to `log_path` (unless `verbose`); yields the terminal's Console. A log
    file that cannot be opened ends the command with a message naming it, before anything is
    moved."""
    sys.stdout.flush(), sys.stderr.flush()
    if verbose:
        yield Console(highlight=False, markup=False, soft_wrap=True)
        return
    with _open_log(log_path) as log:
        terminal, opened = _terminal_file()
        try:
            console = Console(file=terminal, highlight=False, markup=False, soft_wrap=True)
            console.print(f"[privrec] library logs go to {log_path} (--verbose shows them here)")
            saved = os.dup(1), os.dup(2)
            try:
                os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
                try:
                    yield console
                finally:
                    sys.stdout.flush(), sys.stderr.flush()
                    os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            finally:
                os.close(saved[0]), os.close(saved[1])
            console.print(f"[privrec] library logs: {log_path}")
        finally:
            if opened:
                terminal.close()


def _open_log(log_path: str):
    """The log file, opened to append (its folder made if missing), or SystemExit naming it."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        return open(log_path, "ab")
    except OSError as error:
        sys.exit(f"privrec: cannot write the library log {log_path}: "
                 f"{error.strerror or error}; pass a --work-dir you can write to, or --verbose "
                 "to keep library output on the terminal")


def _terminal_file():
    """(file for the user's terminal, whether it was opened here): a duplicate of fd 1, or
    sys.stdout itself when it is not fd 1 (e.g. captured by a caller), which the redirect of
    fd 1 does not touch."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return sys.stdout, False
    return os.fdopen(os.dup(descriptor), "w", buffering=1, encoding="utf-8"), True


class ComponentProgress:
    """The printer `pipeline.local_runner.run` calls with '▶ running: X' / '✔ finished: X in
    12s' lines: a running component is a live spinner with its elapsed time and the latest
    progress the component reports (privrec/progress.py, e.g. the Trainer's "step 40/400, ε 0.52
    spent"), a finished one a permanent line. Safe to call from the runner's watcher thread
    and from the component's."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.tasks = {}
        self.latest = {}  # node: its latest reported progress while it runs

    def __enter__(self):
        self.progress.start()
        progress_channel.subscribe(self.report)
        return self

    def __exit__(self, *exc):
        progress_channel.unsubscribe(self.report)
        self.progress.stop()

    def _description(self, node: str) -> str:
        latest = self.latest.get(node)
        return f"[privrec] running {node}" + (f" · {latest}" if latest else "")

    def report(self, node: str, text: str) -> None:
        """A component's progress (privrec.progress.report): next to its spinner."""
        self.latest[node] = text
        task: Optional[int] = self.tasks.get(node)
        if task is not None:
            self.progress.update(task, description=self._description(node))

    def __call__(self, line: str) -> None:
        state, _, rest = line.removeprefix("[privrec] ").partition(": ")
        node = rest.split(" in ")[0]
        if "running" in state:
            self.tasks[node] = self.progress.add_task(self._description(node), total=None)
            return
        self.latest.pop(node, None)
        task: Optional[int] = self.tasks.pop(node, None)
        if task is not None:
            self.progress.remove_task(task)
        self.console.print(line)
