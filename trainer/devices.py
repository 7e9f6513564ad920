"""How training uses the devices present: the tf.distribute strategy and the mixed-precision
policy. Nothing here has run on a GPU yet (README, "GPU"); on CPU the Mirrored path is tested
over 2 logical CPU devices and mixed precision with bfloat16 (tests/trainer/test_devices.py).

`TrainerConfig.distribution`: "auto" (several GPUs: MirroredStrategy over them; one GPU:
OneDeviceStrategy on it; none: the default strategy), or "mirrored" (over every GPU, else every
logical CPU device), "one_device" (the first GPU, else the CPU) or "default" to force one;
"multi_worker": MultiWorkerMirroredStrategy over the cluster in $TF_CONFIG (docs/scaling.md),
for now refused for clusters of more than one worker (see `multi_worker_strategy`).
"""
import contextlib
import json
import os
from typing import Iterator, List

import tensorflow as tf

DISTRIBUTIONS = ("auto", "mirrored", "one_device", "default", "multi_worker")


def strategy_name(distribution: str, num_gpus: int) -> str:
    """The strategy `distribution` means with `num_gpus` GPUs present."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if distribution != "auto":
        return distribution
    return "mirrored" if num_gpus > 1 else "one_device" if num_gpus == 1 else "default"


def _device_names(kind: str) -> List[str]:
    return [device.name for device in tf.config.list_logical_devices(kind)]


def multi_worker_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy over the cluster $TF_CONFIG names (this process's task too).

    More than one worker is refused: the user sampler's dataset
    (privrec/privacy/user_sampling.py) is not sharded by user across workers, and tf.data's auto-sharding of it (by data: every n-th
    element) would split or duplicate whole steps' Poisson samples, so what one global step
    sees would no longer be what the accountant counts; and every worker would export the model
    to the same directory (no chief-only export yet)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = tf_config.get("cluster", {})
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    if not workers or "task" not in tf_config:
        raise ValueError("distribution 'multi_worker' needs $TF_CONFIG with a cluster (chief/"
                         "worker addresses) and this process's task, e.g. "
                         '{"cluster": {"worker": ["host:port"]}, "task": {"type": "worker", '
                         '"index": 0}}')
    if workers > 1:
        raise NotImplementedError(
            f"$TF_CONFIG names {workers} workers: multi-worker DP-SGD is not supported yet (the "
            "user sampler is not sharded across workers, so the privacy accounting would not "
            "hold, and export is not chief-only); use one worker with 'mirrored' over its "
            "GPUs (docs/scaling.md)")
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:  # "Collective ops must be configured at program startup"
        raise RuntimeError(f"{error}: MultiWorkerMirroredStrategy must be built before this "
                           "process runs any TensorFlow op or lists its devices") from error


def strategy(distribution: str = "auto") -> tf.distribute.Strategy:
    """The strategy to build, compile and train the model under (see the module docstring)."""
    if distribution == "multi_worker":  # before anything initialises TF's devices
        return multi_worker_strategy()
    gpus = _device_names("GPU")
    name = strategy_name(distribution, len(gpus))
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(gpus or _device_names("CPU"))
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def precision_policy_name(mixed_precision: bool) -> str:
    """float32, or mixed_float16 with a GPU present (tensor cores), mixed_bfloat16 without."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if _device_names("GPU") else "mixed_bfloat16"


@contextlib.contextmanager
def precision_policy(mixed_precision: bool) -> Iterator[str]:
    """Layers built inside compute in the policy's dtype (variables stay float32); the global
    policy is restored on exit, so nothing else in the process changes."""
    previous = tf.keras.mixed_precision.global_policy()
    name = precision_policy_name(mixed_precision)
    tf.keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)
