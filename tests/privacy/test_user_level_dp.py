"""User-level DP-SGD: Poisson user sampling with a per-user cap, per-user gradients, clipping."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling
from trainer import features


def test_each_step_samples_users_at_rate_q_with_at_most_k_examples_each():
    rows_per_user = [50, 1, 3, 9, 20, 2, 7, 4] * 5  # 40 users, heavy and light
    examples = synthetic.examples(rows_per_user)
    sampler = user_sampling.UserSampler(examples, users_per_step=10, max_examples_per_user=4)
    assert sampler.num_users == 40 and sampler.sampling_rate == pytest.approx(0.25)
    owner = {tuple(examples[features.QUERY_TOKENS][i]) + (int(examples[features.LABEL][i]),):
             examples[features.USER_KEY][i] for i in range(len(examples[features.LABEL]))}
    batches = sampler.batches()
    counts = []
    for _ in range(400):
        batch = next(batches)
        mask = batch[user_sampling.EXAMPLE_MASK]
        assert mask.shape[0] % user_sampling.PAD_USERS == 0 and mask.shape[1] == 4
        users_in_step = []
        for slot in range(mask.shape[0]):
            real = np.flatnonzero(mask[slot])
            if not len(real):
                continue
            assert list(real) == list(range(len(real)))  # real rows first, then padding
            slot_owners = {owner[tuple(batch[features.QUERY_TOKENS][slot, j])
                                 + (int(batch[features.LABEL][slot, j]),)] for j in real}
            assert len(slot_owners) == 1  # one slot = one user's examples only
            user = slot_owners.pop()
            assert len(real) == min(4, rows_per_user[int(user[1:])])
            users_in_step.append(user)
        assert len(users_in_step) == len(set(users_in_step))  # no user twice in a step
        counts.append(len(users_in_step))
    # Poisson sampling: Binomial(40, 0.25) users per step (mean 10, sd 2.7), not a fixed 10.
    assert 9.5 < np.mean(counts) < 10.5 and np.std(counts) > 2.0
    assert features.USER_KEY not in batch  # the model never sees the user key


def test_sampling_refuses_examples_without_a_user_key():
    examples = synthetic.examples([3, 3])
    del examples[features.USER_KEY]
    with pytest.raises(ValueError, match="must pseudonymise user_id"):
        user_sampling.UserSampler(examples, users_per_step=1, max_examples_per_user=2)


@pytest.mark.parametrize("text_trainable_layers", [0, 1])
def test_per_user_gradients_are_each_users_own_and_are_clipped_before_noise(
        text_trainable_layers):
    """Each user's gradient equals that user's own loss differentiated on its own, also with
    MiniLM's top layer trained (its lower layers then run once for the batch, outside)."""
    model = synthetic.model(text_trainable_layers=text_trainable_layers)
    sampler = user_sampling.UserSampler(synthetic.examples([5, 2, 8]), users_per_step=3,
                                        max_examples_per_user=4)
    batch = {k: tf.constant(v) for k, v in next(sampler.batches()).items()}
    mask = batch[user_sampling.EXAMPLE_MASK].numpy()
    negatives = model.sample_negatives()
    gradients, losses = synthetic.user_gradients(model, batch, negatives)
    top = {id(v) for layer in model.query_tower.text_encoder.top for v in layer.trainable_variables}
    text_gradients = [g for g, v in zip(gradients, model.trainable_variables) if id(v) in top]
    assert len(text_gradients) == len(top) and bool(top) == bool(text_trainable_layers)
    assert all(np.any(g.numpy()) for g in text_gradients)
    for slot in range(3):  # sampling rate 1: all three users, in slots 0..2
        real = int(mask[slot].sum())
        assert real == [4, 2, 4][slot]
        one = {k: v[slot, :real] for k, v in batch.items()}
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.per_example_loss(one, negatives))
        expected = tape.gradient(loss, model.trainable_variables,
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)
        assert losses[slot].numpy() == pytest.approx(loss.numpy(), rel=1e-5)
        for got, want in zip(gradients, expected):
            np.testing.assert_allclose(got[slot].numpy(), tf.convert_to_tensor(want).numpy(),
                                       rtol=1e-4, atol=1e-4)
    for g in gradients:  # padding slots contribute nothing
        assert not np.any(g[3:].numpy())

    # Without noise, the private mean is the sum of per-user gradients clipped to C over the
    # expected number of users: each user moves it by at most C / expected users.
    clip = 1e-3
    norms = np.sqrt(sum(np.sum(g.numpy().reshape(len(mask), -1) ** 2, axis=1)
                        for g in gradients))
    assert np.all(norms[:3] > clip)
    mean = privacy.UserLevelDP(clip, 0.0, expected_users_per_step=3.0).noisy_mean(gradients)
    for m, g in zip(mean, gradients):
        clipped = sum(g[i].numpy() * clip / norms[i] for i in range(3))
        np.testing.assert_allclose(m.numpy(), clipped / 3.0, atol=1e-8)
    # With noise: stddev σ·C / expected users per coordinate.
    noisy = privacy.UserLevelDP(clip, 2.0, expected_users_per_step=3.0).noisy_mean(gradients)
    big = max(range(len(noisy)), key=lambda i: noisy[i].shape.num_elements())
    noise = noisy[big].numpy() - mean[big].numpy()
    assert np.std(noise) == pytest.approx(2.0 * clip / 3.0, rel=0.1)


def test_training_without_the_dp_mechanism_is_refused():
    model = synthetic.model()
    model.compile(optimizer=privacy.make_optimizer({"learning_rate": 1e-3}))
    sampler = user_sampling.UserSampler(synthetic.examples([3, 3]), users_per_step=2,
                                        max_examples_per_user=2)
    with pytest.raises(ValueError, match="never trains without the DP mechanism"):
        model.fit(sampler.dataset(), steps_per_epoch=1, epochs=1, verbose=0)


def test_noise_norm_over_clip_is_the_norm_of_the_noise_the_mechanism_adds():
    """privacy.noise_norm_over_clip against the noise UserLevelDP.noised_mean really adds to a
    zero gradient sum (two variables, 30,050 values): σ·√D / users, in units of the clip."""
    dp = privacy.UserLevelDP(l2_norm_clip=2.0, noise_multiplier=1.5, expected_users_per_step=10)
    shapes = [(1000, 30), (50,)]
    noised = dp.noised_mean([tf.zeros(shape) for shape in shapes])
    measured = float(tf.linalg.global_norm(noised)) / dp.l2_norm_clip
    expected = privacy.noise_norm_over_clip(1.5, 10, 1000 * 30 + 50)
    assert expected == pytest.approx(1.5 * (30_050 ** 0.5) / 10)
    assert dp.noise_norm_over_clip([tf.zeros(shape) for shape in shapes]) == expected
    assert measured == pytest.approx(expected, rel=0.02)
    # More users per step average the same noise down; more parameters add to it.
    assert privacy.noise_norm_over_clip(1.5, 100, 30_050) == pytest.approx(expected / 10)
    assert privacy.noise_norm_over_clip(1.5, 10, 4 * 30_050) == pytest.approx(2 * expected)
