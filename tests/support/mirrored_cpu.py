"""Run by tests/trainer/test_devices.py in a process of its own: splits the CPU into 2 logical devices
(only possible before TensorFlow initialises its devices), runs the DP step and fit() under
MirroredStrategy and on one device from the same weights and batch, and prints the
measurements as JSON on its last line."""
import json
import os

import privrec  # noqa: F401  (Keras 2, before TensorFlow)
from privrec import randomness
import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)

from tests.support import synthetic_two_tower as synthetic  # noqa: E402
from privrec import privacy  # noqa: E402
from privrec.privacy import user_sampling  # noqa: E402
from trainer import devices  # noqa: E402

USERS, CLIP, SIGMA, LEARNING_RATE = 8, 1e-3, 2.0, 100.0
QUIET, NOISY = (privacy.UserLevelDP(CLIP, sigma, USERS) for sigma in (0.0, SIGMA))


def _max_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))


def _local(strategy, values):
    return [[v.numpy() for v in per_replica] for per_replica in
            zip(*[strategy.experimental_local_results(v) for v in values])]


def _mirrored_dp_step(strategy, model, batch, negatives):
    """Per replica: the noisy private gradients and the user slots it got."""
    users = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(batch))))
    with strategy.scope():
        trainer = synthetic.dp_trainer(model, NOISY)
    noisy, _ = tf.function(lambda users: strategy.run(
        trainer.private_gradients, args=(users, negatives)))(users)
    return _local(strategy, noisy), [int(tf.shape(u)[0]) for u in
                                     strategy.experimental_local_results(
                                         users[user_sampling.EXAMPLE_MASK])]


def main():
    strategy = devices.strategy("mirrored")
    out = {"strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
           "devices": list(strategy.extended.worker_devices),
           "auto": type(devices.strategy("auto")).__name__}
    tf.random.set_seed(3)
    # fit() must see the batch the one-device step saw: the sampler's draws reproducible (tests
    # only; the user sampling in training comes from OS entropy).
    os.environ[randomness.TEST_ONLY_SEED_ENV] = "3"
    single = synthetic.model()
    with strategy.scope():
        mirrored = synthetic.model()
    mirrored.set_weights(single.get_weights())
    sampler = user_sampling.UserSampler(synthetic.examples([5, 2, 8, 3, 6, 4, 7, 1]),
                                        users_per_step=USERS, max_examples_per_user=4)
    batch = {k: tf.constant(v) for k, v in next(sampler.batches()).items()}
    negatives = single.sample_negatives()
    want, want_loss = synthetic.dp_trainer(single, QUIET).private_gradients(
        batch, negatives)  # on one device
    want = [g.numpy() for g in want]

    # The noise: σC / expected users per coordinate in total, the same on every replica.
    noisy, slots = _mirrored_dp_step(strategy, mirrored, batch, negatives)
    big = max(range(len(want)), key=lambda i: want[i].size)
    out.update(slots=slots, noise_std_expected=SIGMA * CLIP / USERS,
               noise_std_mirrored=float(np.std(noisy[0][big] - want[big])),
               noisy_replicas_difference=_max_difference(noisy[0], noisy[1]))

    # One fit() step (SGD, no noise) on the same first batch: the loss is the one-device
    # loss, the update -lr × the one-device private gradient, the same on every replica.
    with strategy.scope():
        trainer = synthetic.dp_trainer(mirrored, QUIET)
        trainer.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=LEARNING_RATE))
    mirrored.sample_negatives = lambda: negatives  # the same negatives on every replica
    before = [w.numpy() for w in mirrored.trainable_variables]
    history = trainer.fit(sampler.dataset(), steps_per_epoch=1, epochs=1, verbose=0)
    update = [w.numpy() - b for w, b in zip(mirrored.trainable_variables, before)]
    components = [strategy.experimental_local_results(v) for v in mirrored.trainable_variables]
    out.update(loss_single=float(want_loss), fit_loss=float(history.history["loss"][-1]),
               fit_update_difference=_max_difference(update, [-LEARNING_RATE * g for g in want]),
               fit_update_scale=max(float(np.max(np.abs(u))) for u in update),
               fit_replicas_difference=max(float(np.max(np.abs(a.numpy() - b.numpy())))
                                           for a, b in components))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
