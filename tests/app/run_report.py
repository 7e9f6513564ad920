"""The run report of the session's tiny run, built once and shared by the report tests."""
import functools
import os

from privrec.app.report import build


def work_dir(tiny_run) -> str:
    config = tiny_run[0]
    return os.path.dirname(config.metadata_path)


@functools.lru_cache(maxsize=None)
def _built(directory: str) -> str:
    return build.write(directory)


def page_of(tiny_run) -> str:
    """The path of <tiny run's work dir>/report/index.html, built on first use."""
    return _built(work_dir(tiny_run))
