"""Writes a model version so that a model server never sees half of it.

A server polling the base path loads any numbered directory holding a saved_model.pb; a version
copied in place (`cp -r`, or a Pusher copying file by file) can be seen with saved_model.pb but
without its variables. Here the version is written under a hidden temporary name in the same
directory (so on the same filesystem) and renamed to its number once complete: rename is atomic
on a local or POSIX filesystem, so the number appears with every file in it. (Object stores such
as GCS have no atomic rename: there, write saved_model.pb last, as TFX's Pusher does.)
"""
import os
import shutil
import tempfile
import time
from typing import Callable, Optional

STAGING_PREFIX = ".incoming-"  # not a number: servers ignore it


def _fsync_tree(path: str) -> None:
    """Flushes every file and directory under `path`, so the rename never exposes files whose
    data is not on disk yet (after a crash)."""
    for root, dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(root)


def _fsync_dir(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def push_version(model_dir: str, base_directory: str, version: Optional[int] = None,
                 before_publish: Optional[Callable[[str], None]] = None) -> str:
    """Copies the SavedModel at `model_dir` to `<base_directory>/<version>` atomically; returns
    that path. `version` defaults to the Unix time (TFX Pusher's versioning).
    `before_publish(staged_dir)` may add files (e.g. a model card) before the version appears.
    FileExistsError if the version exists already: a published version is never changed."""
    version = int(time.time()) if version is None else int(version)
    os.makedirs(base_directory, exist_ok=True)
    final = os.path.join(base_directory, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"version {version} already exists at {final}; versions are never "
                              "overwritten, push a new one")
    staged = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-", dir=base_directory)
    try:
        os.chmod(staged, 0o755)  # mkdtemp's 0700 would hide the version from other users
        shutil.copytree(model_dir, staged, dirs_exist_ok=True)
        if before_publish is not None:
            before_publish(staged)
        _fsync_tree(staged)
        if os.path.exists(final):  # pushed by someone else meanwhile
            raise FileExistsError(f"version {version} appeared at {final} while pushing")
        os.rename(staged, final)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    _fsync_dir(base_directory)
    return final
