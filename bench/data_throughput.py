"""Throughput and memory of the data stages (MaskingExampleGen, StatisticsGen, Transform) at
two or more sizes of generated data, side by side with the smallest as the baseline.

Each size runs in a process of its own (generate the data, then the pipeline's data stages,
pipeline/data_stages.py, with LocalDagRunner and the config's Beam settings):
- rows/s per stage: rows / the stage's wall time as MLMD records it (driver start to end);
- peak RSS per stage: the child's process tree (psutil, sampled every 0.2 s) inside the
  stage's time window; and the child's whole-run peak from the kernel (os.wait4's ru_maxrss).
The data of one size is `rows / shop.interactions` files, each one `privrec generate`-like log of
the same shop (catalog and users from the same seed, interactions from their own seed).

    python bench/data_throughput.py --rows 100000,1000000 --json out/data_throughput.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)
from bench import report  # noqa: E402

STAGES = ("MaskingExampleGen", "StatisticsGen", "Transform")  # the targets are on these
TARGET_MEMORY_RATIO = 1.5    # peak RSS at the largest size / at the baseline, at most
TARGET_RATE_DIFFERENCE = 0.2  # rows/s may differ from the baseline's by at most this share
SAMPLE_SECONDS = 0.2


def write_data(data_dir: str, rows: int, shop: str) -> int:
    """`rows / shop.interactions` interaction files of one shop; returns the number of files."""
    from privrec.data import generator, schema, time_window
    size = generator.SIZES[shop]
    if rows % size.interactions:
        raise SystemExit(f"--rows {rows} is not a multiple of the {shop} shop's "
                         f"{size.interactions} interactions per file")
    files = rows // size.interactions
    for i in range(files):
        data = generator.generate(size, interactions_seed=i)
        if i == 0:
            generator.write_csv(os.path.join(data_dir, schema.CATALOG_FILE), data["catalog"],
                                schema.CATALOG_COLUMNS)
        generator.write_csv(os.path.join(data_dir, schema.INTERACTIONS_DIR, f"part-{i:05d}.csv"),
                            data["interactions"], schema.INTERACTION_COLUMNS)
    time_window.write(os.path.join(data_dir, schema.INTERACTIONS_DIR), generator.TIME_WINDOW)
    return files


class TreeRssSampler(threading.Thread):
    """Samples the RSS of this process and all its descendants (Beam workers too)."""

    def __init__(self):
        super().__init__(daemon=True)
        import psutil
        self._process = psutil.Process()
        self._stop_event = threading.Event()
        self.samples = []  # (unix ms, bytes)

    def _rss(self) -> int:
        import psutil
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self):
        while not self._stop_event.is_set():
            self.samples.append((time.time() * 1000, self._rss()))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self):
        self._stop_event.set()
        self.join()

    def peak(self, start_ms: float, end_ms: float) -> int:
        inside = [rss for t, rss in self.samples if start_ms <= t <= end_ms]
        return max(inside, default=0)


def stage_windows(metadata_path: str):
    """{component id: (start ms, end ms)} of the completed executions in MLMD."""
    import ml_metadata as mlmd
    from tfx import v1 as tfx
    store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(
        metadata_path))
    windows = {}
    for execution in store.get_executions():
        node = next((c.name.split(".")[-1] for c in store.get_contexts_by_execution(execution.id)
                     if c.type == "node"), None)
        if node:
            windows[node] = (execution.create_time_since_epoch,
                             execution.last_update_time_since_epoch)
    return windows


def run_child(args) -> None:
    """One size: data, then the data stages; writes the measurements to args.out."""
    from components.masking import policy, pseudonymizer, report as masking_report
    from pipeline import configs, data_stages, local_runner
    work = os.path.abspath(args.work_dir)
    started = time.time()
    files = write_data(os.path.join(work, "data"), args.rows, args.shop)
    generate_seconds = time.time() - started
    overrides = {"masking_policy": args.policy or (
        policy.TINY_POLICY if args.shop == "tiny" else policy.DEFAULT_POLICY)}
    if args.beam_args:
        overrides["beam_pipeline_args"] = json.loads(args.beam_args)
    config = configs.local_config(work, **overrides)
    os.environ.setdefault(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    sampler = TreeRssSampler()
    sampler.start()
    progress = []
    try:
        local_runner.run(config, printer=progress.append, build=data_stages.create_data_pipeline)
    finally:
        sampler.stop()
    report_root = os.path.join(config.pipeline_root, "MaskingExampleGen", "masking_report")
    masked = masking_report.read(os.path.join(report_root, os.listdir(report_root)[0]))
    windows = stage_windows(config.metadata_path)
    stages = {}
    for name in data_stages.DATA_STAGES:
        start, end = windows[name]
        rows = args.rows if name == "MaskingExampleGen" else masked["rows_out"]
        seconds = (end - start) / 1000
        stages[name] = {"rows": rows, "seconds": seconds,
                        "rows_per_s": rows / seconds if seconds > 0 else None,
                        "peak_rss_bytes": sampler.peak(start, end)}
    with open(args.out, "w") as f:
        json.dump({"rows": args.rows, "files": files, "shop": args.shop,
                   "rows_out": masked["rows_out"], "generate_seconds": generate_seconds,
                   "beam_pipeline_args": config.beam_pipeline_args, "stages": stages,
                   "progress": progress}, f, indent=2)


def measure(rows: int, args, work_dir: str) -> dict:
    """Runs one size in a child process; adds the child's kernel-reported peak RSS."""
    out = os.path.join(work_dir, f"rows{rows}.json")
    command = [sys.executable, os.path.abspath(__file__), "--child", "--rows", str(rows),
               "--shop", args.shop, "--work-dir", os.path.join(work_dir, f"rows{rows}"),
               "--out", out]
    if args.policy:
        command += ["--policy", args.policy]
    if args.beam_args:
        command += ["--beam-args", args.beam_args]
    started = time.time()
    child = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"the {rows}-row run failed (exit {child.returncode})")
    with open(out) as f:
        numbers = json.load(f)
    numbers["peak_rss_process_bytes"] = usage.ru_maxrss * 1024  # Linux: kilobytes
    numbers["wall_seconds"] = time.time() - started
    return numbers


def _ratio(a, b):
    return a / b if a and b else None


def _fixed_and_marginal(small: dict, large: dict) -> dict:
    """A stage's time as fixed + rows / marginal rate, from two sizes: the fixed part (start-up,
    graph tracing) is why rows/s grows with size when a stage scales linearly."""
    extra_rows, extra_seconds = large["rows"] - small["rows"], large["seconds"] - small["seconds"]
    if extra_rows <= 0 or extra_seconds <= 0:
        return {"marginal_rows_per_s": None, "fixed_seconds": None}
    marginal = extra_rows / extra_seconds
    return {"marginal_rows_per_s": marginal,
            "fixed_seconds": small["seconds"] - small["rows"] / marginal}


def compare(results: list) -> dict:
    """Every size against the first (the baseline): rows/s and peak RSS ratios per stage."""
    baseline = results[0]
    comparison = {}
    for other in results[1:]:
        stages = {name: {
            "rows_per_s_ratio": _ratio(other["stages"][name]["rows_per_s"],
                                       baseline["stages"][name]["rows_per_s"]),
            "peak_rss_ratio": _ratio(other["stages"][name]["peak_rss_bytes"],
                                     baseline["stages"][name]["peak_rss_bytes"]),
            **_fixed_and_marginal(baseline["stages"][name], other["stages"][name])}
            for name in baseline["stages"]}
        comparison[str(other["rows"])] = {
            "stages": stages,
            "peak_rss_process_ratio": _ratio(other["peak_rss_process_bytes"],
                                             baseline["peak_rss_process_bytes"])}
    return comparison


def _mb(n):
    return f"{n / 2**20:,.0f}" if n else "-"


def _number(value, spec):
    return format(value, spec) if value is not None else "-"


def _x(r):
    return f"{r:.2f}×" if r else "-"


def print_table(results: list, comparison: dict) -> dict:
    """The table, and the targets (met or not) for the largest size against the baseline."""
    sizes = [r["rows"] for r in results]
    head = ["stage"] + [f"rows/s @{n:,}" for n in sizes] + [f"rows/s ratio @{n:,}" for n in sizes[1:]] \
        + [f"peak RSS MB @{n:,}" for n in sizes] + [f"RSS ratio @{n:,}" for n in sizes[1:]] \
        + [f"marginal rows/s {sizes[0]:,}→{n:,}" for n in sizes[1:]] \
        + [f"fixed s {sizes[0]:,}→{n:,}" for n in sizes[1:]]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for name in STAGES:  # the validation stages take well under a second
        cells = [name] + [f"{r['stages'][name]['rows_per_s']:,.0f}" for r in results]
        cells += [_x(comparison[str(n)]["stages"][name]["rows_per_s_ratio"]) for n in sizes[1:]]
        cells += [_mb(r["stages"][name]["peak_rss_bytes"]) for r in results]
        cells += [_x(comparison[str(n)]["stages"][name]["peak_rss_ratio"]) for n in sizes[1:]]
        cells += [_number(comparison[str(n)]["stages"][name]["marginal_rows_per_s"], ",.0f")
                  for n in sizes[1:]]
        cells += [_number(comparison[str(n)]["stages"][name]["fixed_seconds"], ".1f")
                  for n in sizes[1:]]
        print("| " + " | ".join(cells) + " |")
    cells = ["whole run (kernel peak)"] + ["" for _ in results] + ["" for _ in sizes[1:]]
    cells += [_mb(r["peak_rss_process_bytes"]) for r in results]
    cells += [_x(comparison[str(n)]["peak_rss_process_ratio"]) for n in sizes[1:]]
    cells += ["" for _ in sizes[1:]] * 2
    print("| " + " | ".join(cells) + " |")
    if len(results) < 2:
        print("one size only: no ratios, targets not measured")
        return {}
    largest = comparison[str(sizes[-1])]
    targets = {f"peak RSS @{sizes[-1]:,} <= {TARGET_MEMORY_RATIO}× @{sizes[0]:,} (whole run)":
               (largest["peak_rss_process_ratio"] or 0) <= TARGET_MEMORY_RATIO}
    for name in STAGES:
        stage = largest["stages"][name]
        targets[f"{name}: peak RSS ratio <= {TARGET_MEMORY_RATIO}"] = \
            (stage["peak_rss_ratio"] or 0) <= TARGET_MEMORY_RATIO
        targets[f"{name}: rows/s within {TARGET_RATE_DIFFERENCE:.0%}"] = \
            abs((stage["rows_per_s_ratio"] or 0) - 1) <= TARGET_RATE_DIFFERENCE
    report.print_targets(targets)
    return targets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,1000000",
                        help="comma-separated sizes; the first is the baseline")
    parser.add_argument("--shop", default="default",
                        help="generator size of each file (privrec/data/generator.py SIZES)")
    parser.add_argument("--policy", help="masking policy (default: tiny.yaml for the tiny shop, "
                                         "else default.yaml)")
    parser.add_argument("--beam-args", help="JSON list of beam_pipeline_args (default: the "
                                            "config's, DirectRunner in memory)")
    parser.add_argument("--work-dir", help="default: a temporary directory, removed after")
    parser.add_argument("--json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.rows = int(args.rows)
        return run_child(args)
    sizes = [int(n) for n in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="data_throughput") as scratch:
        work_dir = os.path.abspath(args.work_dir or scratch)
        os.makedirs(work_dir, exist_ok=True)
        results = [measure(n, args, work_dir) for n in sizes]
    comparison = compare(results)
    print(f"data stages, {results[0]['shop']} shop files, cores: {os.cpu_count()}, "
          f"beam: {' '.join(results[0]['beam_pipeline_args'])}")
    targets = print_table(results, comparison)
    report.write_json(args.json, {"sizes": results, "baseline_rows": sizes[0],
                                  "comparison": comparison, "targets": targets,
                                  "cpu_count": os.cpu_count()})


if __name__ == "__main__":
    main()
