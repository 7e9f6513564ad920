"""One run at a time per pipeline root: a pipeline root is one privacy budget.

The SpanTrainer reads the privacy ledger of the latest Model and extends it. Two runs on one
root at the same time would both read the same ledger and each spend budget the other cannot
see. `exclusive(root)` takes an advisory lock (flock) on a file in the root for the whole run
and refuses a second run while it is held; the OS releases it when the process ends, so a
crashed run never leaves the root locked. Local roots only: on Kubeflow the orchestrator must
serialise runs of a pipeline (its run concurrency setting).
"""
import contextlib
import errno
import fcntl
import os

LOCK_FILE = ".privrec-run.lock"


class ConcurrentRunError(RuntimeError):
    """Another run holds the pipeline root."""


@contextlib.contextmanager
def exclusive(pipeline_root: str):
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConcurrentRunError(
                f"another privrec run (process {holder}) is using the pipeline root "
                f"{pipeline_root}: its privacy ledger can take one run at a time. Wait for it "
                f"to finish, or use another work dir for data about other users") from error
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
