"""Local Beam runs use the installed TFX, not a copy of TFX packaged for each component run.

Unless the Beam arguments name a dependency (--extra_package, --setup_file, an SDK image...),
TFX's BaseBeamExecutor builds an sdist of all of TFX (`tfx.utils.dependency_utils.
make_beam_dependency_flags`: ~49 MB, ~2 s) and adds it as --extra_package, so that remote
workers can import TFX's executors. The DirectRunner's workers are this machine's processes,
where TFX is installed, so that package is never installed anywhere; Beam still stages it, and
neither library deletes the temporary directories. That is ~49 MB of /tmp per Beam component
run: a CI run of the test suite filled the disk with them.

`skip_tfx_package_for_local_runners` wraps TFX's function so that it returns a local runner's
arguments as they are. Remote runners (Dataflow, Flink, Spark) keep TFX's behaviour.
"""
import functools
from typing import List, Sequence

_LOCAL_RUNNERS = {"directrunner", "bundlebaseddirectrunner", "switchingdirectrunner"}


def runs_locally(beam_pipeline_args: Sequence[str]) -> bool:
    """Whether these arguments run Beam on this machine (a DirectRunner, Beam's default)."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    runner = PipelineOptions(list(beam_pipeline_args or [])).view_as(StandardOptions).runner
    name = (runner or StandardOptions.DEFAULT_RUNNER).lower()
    return (name if name.endswith("runner") else name + "runner") in _LOCAL_RUNNERS


def skip_tfx_package_for_local_runners() -> None:
    """Makes TFX's Beam executors leave local runners' arguments alone (idempotent)."""
    from tfx.utils import dependency_utils
    build_flags = dependency_utils.make_beam_dependency_flags
    if getattr(build_flags, "skips_local_runners", False):
        return

    @functools.wraps(build_flags)
    def make_beam_dependency_flags(beam_pipeline_args: List[str]) -> List[str]:
        if runs_locally(beam_pipeline_args):
            return beam_pipeline_args
        return build_flags(beam_pipeline_args)

    make_beam_dependency_flags.skips_local_runners = True
    dependency_utils.make_beam_dependency_flags = make_beam_dependency_flags
