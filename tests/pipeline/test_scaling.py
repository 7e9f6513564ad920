"""Scaling out: Beam runner presets (options objects as each runner reads them), the CLI's
--beam-runner, MultiWorkerMirroredStrategy from TF_CONFIG, and the data stages on DirectRunner
in multi-processing mode (2 worker processes) against the in-memory tiny run."""
import collections
import json
import os
import subprocess
import sys
import threading

import psutil
import pytest
from apache_beam.options.pipeline_options import (DirectOptions, FlinkRunnerOptions,
                                                  GoogleCloudOptions, PipelineOptions,
                                                  PortableOptions, SparkRunnerOptions,
                                                  StandardOptions, WorkerOptions)

from pipeline import configs
from privrec.app import cli

from tests.support.paths import ROOT
from tests.support.serving_tools import free_port
IMAGE = "europe-docker.pkg.dev/my-project/privrec/privrec:0.1.0"


def test_dataflow_preset_builds_the_options_dataflow_reads():
    options = PipelineOptions(configs.beam_args(
        "dataflow", project="my-project", region="europe-west4",
        temp_location="gs://privrec-tmp/beam", sdk_container_image=IMAGE, max_num_workers=200))
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == (
        "my-project", "europe-west4", "gs://privrec-tmp/beam")
    worker = options.view_as(WorkerOptions)
    assert worker.sdk_container_image == IMAGE
    assert worker.max_num_workers == 200  # a setting overrides the preset's 50
    assert worker.autoscaling_algorithm == "THROUGHPUT_BASED"
    assert worker.machine_type == "n2-highmem-4"


def test_flink_and_spark_presets_build_portable_runner_options():
    flink = PipelineOptions(configs.beam_args("flink", flink_master="flink-jobmanager:8081",
                                              environment_config=IMAGE, parallelism=32))
    assert flink.view_as(StandardOptions).runner == "FlinkRunner"
    assert flink.view_as(FlinkRunnerOptions).flink_master == "flink-jobmanager:8081"
    assert flink.view_as(FlinkRunnerOptions).parallelism == 32
    spark = PipelineOptions(configs.beam_args("spark", spark_master_url="spark://spark:7077",
                                              environment_config=IMAGE))
    assert spark.view_as(StandardOptions).runner == "SparkRunner"
    assert spark.view_as(SparkRunnerOptions).spark_master_url == "spark://spark:7077"
    for options in (flink, spark):
        portable = options.view_as(PortableOptions)
        assert (portable.environment_type, portable.environment_config) == ("DOCKER", IMAGE)


def test_direct_presets_are_the_default_and_the_multi_process_mode():
    default = PipelineOptions(configs.PipelineConfig("d", "p", "s", "m").beam_pipeline_args)
    assert default.view_as(DirectOptions).direct_running_mode == "in_memory"
    multi = PipelineOptions(configs.beam_args("direct-multiprocess")).view_as(DirectOptions)
    assert (multi.direct_running_mode, multi.direct_num_workers) == ("multi_processing", 2)


def test_masking_shuffles_only_on_runners_whose_shuffles_spill():
    """The masking ExampleGen writes without TFX's Reshuffle on DirectRunner (it would hold the
    whole output in memory) and keeps it (and spreads rows before masking) elsewhere."""
    from components.masking.examples_writer import shuffles_spill
    assert not shuffles_spill(configs.PipelineConfig("d", "p", "s", "m").beam_pipeline_args)
    assert not shuffles_spill(configs.beam_args("direct-multiprocess"))
    assert not shuffles_spill([])
    assert shuffles_spill(configs.beam_args(
        "dataflow", project="p", region="r", temp_location="gs://t/b",
        sdk_container_image=IMAGE))
    assert shuffles_spill(configs.beam_args("flink", flink_master="f:8081",
                                            environment_config=IMAGE))


def test_tfx_packages_itself_for_remote_runners_only(tmp_path, monkeypatch):
    """TFX's Beam executors build an sdist of TFX for remote workers; with privrec's Beam
    arguments local runners skip it (privrec/beam_dependencies.py), remote ones still get it."""
    import tempfile
    from tfx.utils import dependency_utils
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for local in (configs.beam_args("direct"), configs.beam_args("direct-multiprocess"),
                  ["--runner=direct"], ["--direct_num_workers=1"]):
        assert dependency_utils.make_beam_dependency_flags(list(local)) == local
    assert os.listdir(tmp_path) == []
    flink = configs.beam_args("flink", flink_master="f:8081", environment_config=IMAGE)
    flagged = dependency_utils.make_beam_dependency_flags(list(flink))
    assert flagged[:-1] == flink and flagged[-1].startswith("--extra_package=")
    package = flagged[-1].split("=", 1)[1]
    assert package.startswith(str(tmp_path)) and os.path.getsize(package) > 1_000_000


@pytest.mark.parametrize("runner, settings, message", [
    ("dataflow", {"project": "p", "region": "r"}, "needs temp_location, sdk_container_image"),
    ("flink", {"environment_config": IMAGE}, "needs flink_master"),
    ("spark", {"spark_master_url": "spark://s:7077"}, "needs environment_config"),
    ("direct", {"direct_num_wrokers": 2}, "not Beam pipeline options: direct_num_wrokers"),
    ("samza", {}, "unknown Beam runner 'samza'")])
def test_a_missing_required_or_unknown_option_is_refused(runner, settings, message):
    with pytest.raises(ValueError, match=message):
        configs.beam_args(runner, **settings)


def test_the_cli_picks_a_beam_runner_and_names_what_is_missing(tmp_path, capsys):
    args = cli.build_parser().parse_args([
        "run", "--work-dir", str(tmp_path), "--beam-runner", "flink",
        "--beam-setting", "flink_master=flink:8081", "--beam-setting",
        f"environment_config={IMAGE}"])
    config = cli._config(args)
    assert "--runner=FlinkRunner" in config.beam_pipeline_args
    assert "--flink_master=flink:8081" in config.beam_pipeline_args
    args = cli.build_parser().parse_args(["run", "--work-dir", str(tmp_path), "--beam-runner",
                                          "dataflow", "--beam-setting", "project=p"])
    with pytest.raises(SystemExit, match="needs region, temp_location, sdk_container_image"):
        cli._config(args)


_BUILD_MULTI_WORKER = """
import json, privrec, tensorflow as tf
from trainer import devices
strategy = devices.strategy("multi_worker")
total = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)),
                        axis=None)
print(json.dumps({"multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
                  "replicas": strategy.num_replicas_in_sync,
                  "task": [strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id],
                  "all_reduced": float(total)}))
"""


def test_multi_worker_strategy_builds_from_a_single_worker_tf_config():
    """In a process of its own (TF_CONFIG is read when the strategy's server starts): one
    worker on a loopback port, one CPU replica, and an all-reduce across it runs."""
    tf_config = {"cluster": {"worker": [f"127.0.0.1:{free_port()}"]},
                 "task": {"type": "worker", "index": 0}}
    done = subprocess.run([sys.executable, "-c", _BUILD_MULTI_WORKER], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT, "TF_CONFIG": json.dumps(
                              tf_config)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"multi_worker": True, "replicas": 1,
                   "task": ["worker", 0], "all_reduced": 1.0}


def test_multi_worker_refuses_a_missing_tf_config_and_several_workers(monkeypatch):
    from trainer import devices
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs \\$TF_CONFIG"):
        devices.strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({
        "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
        "task": {"type": "chief", "index": 0}}))
    with pytest.raises(NotImplementedError, match="names 3 workers: multi-worker DP-SGD is not"):
        devices.strategy("multi_worker")


class _BeamWorkerWatcher(threading.Thread):
    """Remembers the Beam SDK worker processes this process starts (their pids)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.workers, self._stop_event = set(), threading.Event()

    def run(self):
        while not self._stop_event.wait(0.5):
            for child in psutil.Process().children(recursive=True):
                try:
                    if "apache_beam.runners.worker.sdk_worker_main" in child.cmdline():
                        self.workers.add(child.pid)
                except psutil.NoSuchProcess:
                    pass

    def stop(self):
        self._stop_event.set()
        self.join()


def _deterministic_rows(config, policy_path):
    """Each split's masked examples without the randomised columns, as a multiset."""
    from components.masking import policy as policy_lib
    from tests.e2e.test_pipeline_e2e import _examples
    randomized = {r.column for r in policy_lib.load(policy_path).columns.values()
                  if r.action == "randomize"}
    return {split: collections.Counter(
        tuple(sorted((name, str(feature).strip()) for name, feature in e.features.feature.items()
                     if name not in randomized)) for e in _examples(config, split))
        for split in ("train", "eval")}


@pytest.mark.heavy
def test_data_stages_on_direct_runner_multi_processing_match_the_in_memory_run(
        tiny_run, pipeline_key, tmp_path):
    """MaskingExampleGen, StatisticsGen, validation and Transform on DirectRunner with 2 worker
    processes, on the tiny run's input (canaries included) under the same key: the workers
    import the executors and the preprocessing_fn, get the key inside the pickled masking DoFn,
    and produce the in-memory run's examples; no canary or raw PII anywhere in the output."""
    from components.masking import pseudonymizer
    from pipeline import data_stages, local_runner
    from tests.support import canaries
    from tests.support.needles import found
    from tests.conftest import _output_to
    from tests.e2e.test_pipeline_e2e import _file_bytes, _latest_uri, _raw_rows
    memory_config, *_ = tiny_run
    config = configs.local_config(
        str(tmp_path), data_dir=memory_config.data_dir,
        masking_policy=memory_config.masking_policy,
        beam_pipeline_args=configs.beam_args("direct-multiprocess"))
    progress, log_path = [], str(tmp_path / "run.log")
    watcher = _BeamWorkerWatcher()
    watcher.start()
    os.environ[pseudonymizer.KEY_ENV] = pipeline_key
    try:
        with _output_to(log_path):
            local_runner.run(config, printer=progress.append,
                             build=data_stages.create_data_pipeline)
    finally:
        del os.environ[pseudonymizer.KEY_ENV]
        watcher.stop()
    for stage in data_stages.DATA_STAGES:
        assert any(stage in line and "finished" in line for line in progress), progress
    assert len(watcher.workers) >= 2  # the Beam stages really ran in worker processes

    # Same examples as the in-memory run (pseudonyms equal: the same key reached the workers).
    multi, memory = (_deterministic_rows(c, memory_config.masking_policy)
                     for c in (config, memory_config))
    assert sum(multi["train"].values()) > 1000 and sum(multi["eval"].values()) > 100
    assert multi == memory
    transformed = os.path.join(_latest_uri(config, "Transform", "transformed_examples"),
                               "Split-train")
    assert os.listdir(transformed) and os.path.exists(os.path.join(
        _latest_uri(config, "Transform", "transform_graph"), "transform_fn"))

    needles = set(canaries.NEEDLES)
    for row in _raw_rows(memory_config):
        needles.update({row["name"], row["phone"], row["email"], row["address"], row["user_id"]})
    needles = {n.encode() for n in needles if n}
    files = [os.path.join(d, f) for d, _, fs in os.walk(config.pipeline_root) for f in fs]
    files += [config.metadata_path, log_path]
    assert [(path, n) for path in files for n in found(_file_bytes(path), needles)] == []


def test_the_cli_sets_the_span_settings(tmp_path):
    default = cli._config(cli.build_parser().parse_args(["run", "--work-dir", str(tmp_path)]))
    assert default.spans == configs.SpanConfig()
    config = cli._config(cli.build_parser().parse_args([
        "run", "--work-dir", str(tmp_path), "--training-spans", "5", "--spans-disjoint-users"]))
    assert config.spans.training_spans == 5 and config.spans.spans_share_users is False
    with pytest.raises(SystemExit, match="--training-spans takes a number of spans >= 1"):
        cli._config(cli.build_parser().parse_args(["run", "--work-dir", str(tmp_path),
                                                   "--training-spans", "0"]))
