"""One run at a time per pipeline root (pipeline/root_lock.py): a second run on a root whose
privacy ledger another run is extending is refused before anything runs."""
import subprocess
import sys

import pytest

from pipeline import configs, local_runner, root_lock


def test_a_second_run_on_a_locked_root_is_refused_before_it_starts(tmp_path):
    config = configs.local_config(str(tmp_path))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pipeline import root_lock\n"
         f"with root_lock.exclusive({config.pipeline_root!r}):\n"
         "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        built = []
        with pytest.raises(root_lock.ConcurrentRunError,
                           match=f"process {holder.pid}.*one run at a time"):
            local_runner.run(config, printer=lambda line: None,
                             build=lambda *args: built.append(args))
        assert not built  # nothing was built, let alone run
    finally:
        holder.kill()
        holder.wait()
    # The OS released the dead holder's lock: the root is free again.
    with root_lock.exclusive(config.pipeline_root):
        pass


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    root = str(tmp_path / "root")
    with root_lock.exclusive(root):
        with pytest.raises(root_lock.ConcurrentRunError):
            with root_lock.exclusive(root):
                pass
    with root_lock.exclusive(root):
        pass
