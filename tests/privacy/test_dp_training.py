"""DPTrainer (privrec/privacy/dp_training.py) wraps any model with the narrow interface: the
mechanism is fixed at construction, and a step is the clipped, noised mean of each user's
gradient of their own summed loss."""
import numpy as np
import pytest
import tensorflow as tf

from privrec import privacy
from privrec.privacy import user_sampling
from privrec.privacy.dp_training import DPTrainer


class Linear(tf.keras.Model):
    """Not a privrec model: squared error of a linear map, no shared inputs, no cotangents."""

    def __init__(self):
        super().__init__()
        self.dense = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
        self.dense.build([None, 3])

    def sample_negatives(self):
        return tf.zeros([0])

    def prepare_batch(self, users):
        return users

    def per_example_loss(self, inputs, shared):
        return tf.reshape(tf.square(self.dense(inputs["x"]) - inputs["y"]), [-1])


def _batch():
    rng = np.random.default_rng(0)
    mask = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], np.float32)  # 2 users, 1 padding slot
    return {"x": tf.constant(rng.normal(size=[3, 3, 3]), tf.float32),
            "y": tf.constant(rng.normal(size=[3, 3, 1]), tf.float32),
            user_sampling.EXAMPLE_MASK: tf.constant(mask)}


def test_the_mechanism_is_given_at_construction_and_never_set_afterwards():
    trainer = DPTrainer(Linear(), privacy.UserLevelDP(1.0, 0.0, 2.0))
    with pytest.raises(AttributeError):
        trainer.mechanism = privacy.UserLevelDP(1e9, 0.0, 2.0)
    with pytest.raises(TypeError, match="UserLevelDP"):
        DPTrainer(Linear(), None)


@pytest.mark.parametrize("clip", [1e-3, 1e3])
def test_a_step_is_the_mean_of_each_users_clipped_gradient(clip):
    model = Linear()
    trainer = DPTrainer(model, privacy.UserLevelDP(clip, 0.0, expected_users_per_step=2.0))
    batch = _batch()
    x, y, mask = (batch[k].numpy() for k in ("x", "y", user_sampling.EXAMPLE_MASK))
    w = np.ones([3, 1], np.float32)
    want = np.zeros([3, 1])
    for user in range(3):  # d/dw Σ_rows mask (x w - y)² = 2 Σ mask (x w - y) x
        g = 2 * ((x[user] @ w - y[user]) * mask[user][:, None] * x[user]).sum(0)[:, None]
        norm = np.linalg.norm(g)
        want += g * min(1.0, clip / norm) if norm else 0
    got, loss = trainer.private_gradients(batch, model.sample_negatives())
    np.testing.assert_allclose(got[0].numpy(), want / 2.0, rtol=1e-4, atol=1e-7)
    losses = ((x @ w - y)[..., 0] ** 2 * mask).sum()
    assert loss.numpy() == pytest.approx(losses / mask.sum(), rel=1e-5)

    trainer.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=1.0))
    trainer.train_step(batch)
    np.testing.assert_allclose(model.dense.kernel.numpy(), w - want / 2.0, rtol=1e-4,
                               atol=1e-7)
