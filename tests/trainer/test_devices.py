"""The GPU path on CPU: the strategy choice, user-level DP-SGD under MirroredStrategy over 2
logical CPU devices (in a process of its own, tests/support/mirrored_cpu.py), mixed precision with
bfloat16. Nothing here runs on a GPU."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling
from trainer import devices

from tests.support.paths import ROOT


@pytest.mark.parametrize("distribution, gpus, expected", [
    ("auto", 0, "default"), ("auto", 1, "one_device"), ("auto", 2, "mirrored"),
    ("auto", 8, "mirrored"), ("mirrored", 0, "mirrored"), ("default", 4, "default"),
    ("one_device", 0, "one_device")])
def test_the_strategy_follows_the_devices_present_unless_forced(distribution, gpus, expected):
    assert devices.strategy_name(distribution, gpus) == expected


def test_an_unknown_distribution_is_refused():
    with pytest.raises(ValueError, match="distribution must be one of"):
        devices.strategy("parameter_server")


def test_without_a_gpu_auto_is_the_default_strategy_and_one_device_is_the_cpu():
    assert not tf.config.list_logical_devices("GPU")
    assert devices.strategy("auto") is tf.distribute.get_strategy()
    one = devices.strategy("one_device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert one.extended.worker_devices == ("/job:localhost/replica:0/task:0/device:CPU:0",)


@pytest.mark.heavy  # a pipeline run or subprocess of its own: CI, not `make test`
def test_user_level_dp_under_mirrored_strategy_over_two_cpus_matches_one_device():
    done = subprocess.run([sys.executable, "-m", "tests.support.mirrored_cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["strategy"] == "MirroredStrategy" and out["replicas"] == 2
    assert [d.rsplit("/", 1)[-1] for d in out["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert out["auto"] == "_DefaultDistributionStrategy"  # no GPU: auto is not Mirrored
    assert out["slots"] == [4, 4]  # each replica holds half of the 8 user slots
    # Noise added once in total (σC / expected users per coordinate), not on every replica
    # (measured 2× larger: the replicas draw the same noise), the same noised mean on both.
    assert out["noise_std_mirrored"] == pytest.approx(out["noise_std_expected"], rel=0.05)
    assert out["noisy_replicas_difference"] == 0.0
    # fit() without noise: the one-device loss and update (the gradient is aggregated once,
    # not summed again by the optimizer), and the replicas' weights stay identical.
    assert out["fit_loss"] == pytest.approx(out["loss_single"], rel=1e-5)
    assert out["fit_update_scale"] > 1e-3
    assert out["fit_update_difference"] < 1e-4 * out["fit_update_scale"]
    assert out["fit_replicas_difference"] == 0.0


def test_mixed_precision_keeps_the_loss_clipping_and_noise_in_float32():
    with devices.precision_policy(True) as policy:
        model = synthetic.model()
    assert policy == "mixed_bfloat16"  # no GPU here; mixed_float16 with one
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # restored on exit
    assert model.query_tower.mlp.layers[0].compute_dtype == "bfloat16"
    assert model.query_tower.text_encoder.backbone.compute_dtype == "bfloat16"
    assert model.query_tower.mlp.layers[-1].compute_dtype == "float32"  # output layers
    assert all(v.dtype == tf.float32 for v in model.trainable_variables)

    sampler = user_sampling.UserSampler(synthetic.examples([5, 2, 8]), users_per_step=3,
                                        max_examples_per_user=4)
    batch = {k: tf.constant(v) for k, v in next(sampler.batches()).items()}
    gradients, losses = synthetic.user_gradients(model, batch, model.sample_negatives())
    assert losses.dtype == tf.float32 and np.all(np.isfinite(losses.numpy()))
    assert np.all(losses.numpy()[:3] > 0)
    for g in gradients:
        assert g.dtype == tf.float32 and np.all(np.isfinite(g.numpy()))
    clip = 1e-3
    for user in range(3):  # each user's clipped gradient has norm C (all norms are above C)
        one = [g[user:user + 1] for g in gradients]
        assert float(tf.linalg.global_norm(one)) > clip
        clipped = privacy.UserLevelDP(clip, 0.0, expected_users_per_step=1.0).noisy_mean(one)
        assert all(g.dtype == tf.float32 for g in clipped)
        assert float(tf.linalg.global_norm(clipped)) == pytest.approx(clip, rel=1e-4)

    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(clip, 1.0,
                                                              expected_users_per_step=3.0))
    trainer.compile(optimizer=privacy.make_optimizer({"learning_rate": 1e-2}))
    before = [v.numpy() for v in model.trainable_variables]
    loss = trainer.fit(sampler.dataset(), steps_per_epoch=1, epochs=1, verbose=0).history["loss"]
    assert np.isfinite(loss[-1]) and loss[-1] > 0
    after = [v.numpy() for v in model.trainable_variables]
    assert all(np.all(np.isfinite(a)) for a in after)
    assert any(np.any(a != b) for a, b in zip(after, before))
