"""Ghost clipping (privrec/privacy/ghost_clipping.py, from the model's layer inputs and cotangents,
trainer/layer_cotangents.py) gives the same clipped user sum as clipping each user's own
gradient (DPTrainer.user_gradients), without per-user gradients, with item-id embeddings (for
every item or frequent ones only) and without them (trainer/title_lookup.py: the history is a
mean of frozen title vectors), with full or projected title vectors."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import ghost_clipping, user_sampling
from trainer import layer_cotangents, query_vectors


def _batch(model, rows_per_user, k):
    sampler = user_sampling.UserSampler(synthetic.examples(rows_per_user, seed=3),
                                        users_per_step=len(rows_per_user),
                                        max_examples_per_user=k)
    batch = {name: tf.constant(v) for name, v in next(sampler.batches()).items()}
    return model.prepare_batch(batch)


# TrainerConfig.item_id_embeddings, and "selected": own id rows for the frequent half of the
# items only, the rest sharing the unknown item's row (trainer/selected_item_ids.py)
@pytest.mark.parametrize("item_ids", [True, False, "selected"])
@pytest.mark.parametrize("prior", [False, True])  # with a popularity prior in the logits
@pytest.mark.parametrize("clip", [1e-3, 1e3])  # every user clipped / none clipped
# TrainerConfig.title_dims: 4-d projected titles and queries (trainer/title_projection.py), with
# 4-d embeddings, make the candidate MLP's input (16 wide with item ids) narrower than 20
# negatives, so its norms take the other route (each user's kernel gradient, not the Grams)
@pytest.mark.parametrize("title_dims", [None, 4])
def test_ghost_clipped_sum_equals_clipping_each_users_own_gradient(title_dims, clip, prior,
                                                                    item_ids):
    # 12 or 20 negatives of 28 items: repeats and accidental hits.
    model = synthetic.model(negatives_per_step=12 if title_dims is None else 20,
                            popularity_prior_noise=1.0 if prior else None,
                            item_id_embeddings=bool(item_ids),
                            item_id_min_count=0.0 if item_ids == "selected" else None,
                            title_dims=title_dims,
                            embedding_dim=32 if title_dims is None else 4)
    if prior:
        model.item_log_popularity.assign(np.linspace(0, 4, synthetic.NUM_ITEMS))
    if item_ids == "selected":
        kept = model.candidate_tower.item_embedding.select(
            np.arange(synthetic.NUM_ITEMS) % 2 == 0)
        assert 0 < kept < synthetic.NUM_ITEMS - 2
    assert layer_cotangents.supported(model)
    users = _batch(model, [5, 2, 8, 1], k=4)  # padding rows and padding slots included
    assert query_vectors.QUERY_VECTOR in users
    negatives = model.sample_negatives()
    dp = privacy.UserLevelDP(clip, 0.0, expected_users_per_step=4.0)
    gradients, want_losses = synthetic.user_gradients(model, users, negatives)
    want = dp.clip_and_sum(gradients)
    norms = np.sqrt(sum(np.sum(g.numpy().reshape(g.shape[0], -1) ** 2, axis=1)
                        for g in gradients))
    seen = []

    def clip_weights(got_norms):
        seen.append(got_norms.numpy())
        return dp.clip_weights(got_norms)

    mask = users[user_sampling.EXAMPLE_MASK]
    uses, losses = model.layer_cotangents(users, negatives, mask)
    sums = ghost_clipping.clipped_sum(uses, mask.shape[0], mask.shape[1], clip_weights)
    assert len(sums) == len(model.trainable_variables)
    candidate_input = model.candidate_tower.mlp.layers[0].kernel.shape[0]
    assert (candidate_input > negatives.shape[0]) == (title_dims is None)  # the route taken
    got = [sums[v.ref()] for v in model.trainable_variables]
    np.testing.assert_allclose(seen[0], norms, rtol=1e-4, atol=1e-6)
    assert np.all(norms[:4] > 0) and not np.any(norms[4:])  # four users, then padding slots
    np.testing.assert_allclose(losses.numpy(), want_losses.numpy(), rtol=1e-5)
    assert [g.shape for g in got] == [v.shape for v in model.trainable_variables]
    for g, w in zip(got, want):
        scale = max(np.abs(w.numpy()).max(), 1e-12)
        np.testing.assert_allclose(g.numpy() / scale, w.numpy() / scale, atol=1e-4)


def test_ghost_clipping_does_not_apply_when_minilm_layers_are_trained():
    """Trained MiniLM layers are not in the hand-written pass: per-user gradients then."""
    assert not layer_cotangents.supported(synthetic.model(text_trainable_layers=1))


def test_ghost_clipping_does_not_apply_to_other_activations_or_layers_without_bias():
    """The hand-written pass computes ReLU then linear Dense layers with bias, nothing else."""
    model = synthetic.model()
    model.candidate_tower.mlp.layers[0].activation = tf.keras.activations.gelu
    assert not layer_cotangents.supported(model)
    model = synthetic.model()
    model.query_tower.mlp.layers[1].activation = tf.keras.activations.relu
    assert not layer_cotangents.supported(model)
    model = synthetic.model()
    model.query_tower.mlp.layers[0].use_bias = False
    assert not layer_cotangents.supported(model)


@pytest.mark.parametrize("item_ids", [True, False])
def test_a_dp_step_takes_the_ghost_clipped_sum(monkeypatch, item_ids):
    """DPTrainer.private_gradients (train_step's) uses ghost clipping and, without noise, gives
    the per-user path's private mean and loss."""
    model = synthetic.model(item_id_embeddings=item_ids)
    users = _batch(model, [3, 6, 1], k=4)
    negatives = model.sample_negatives()
    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(1e-2, 0.0,
                                                              expected_users_per_step=3.0))
    called = []
    original = ghost_clipping.clipped_sum

    def spy(*args):
        called.append(True)
        return original(*args)

    monkeypatch.setattr(ghost_clipping, "clipped_sum", spy)
    got, loss = trainer.private_gradients(users, negatives)
    assert called
    gradients, losses = trainer.user_gradients(users, negatives)
    want = trainer.mechanism.noisy_mean(gradients)
    assert loss.numpy() == pytest.approx(
        losses.numpy().sum() / users[user_sampling.EXAMPLE_MASK].numpy().sum(), rel=1e-5)
    for g, w in zip(got, want):
        scale = max(np.abs(w.numpy()).max(), 1e-12)
        np.testing.assert_allclose(g.numpy() / scale, w.numpy() / scale, atol=1e-4)


def test_a_model_without_layer_cotangents_trains_on_per_user_gradients(monkeypatch):
    """Trained MiniLM layers: the model gives no cotangents, the trainer falls back to each
    user's own gradient, clipped."""
    model = synthetic.model(text_trainable_layers=1)
    users = _batch(model, [3, 2], k=2)
    assert model.layer_cotangents(users, model.sample_negatives(),
                                  users[user_sampling.EXAMPLE_MASK]) is None
    monkeypatch.setattr(ghost_clipping, "clipped_sum", None)  # would fail if called
    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(1e-3, 0.0, 2.0))
    got, _ = trainer.private_gradients(users, model.sample_negatives())
    assert float(tf.linalg.global_norm(got)) <= 2 * 1e-3 / 2.0 * (1 + 1e-4)
