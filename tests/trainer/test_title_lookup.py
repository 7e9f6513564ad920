"""A model without item-id embeddings (TrainerConfig.item_id_embeddings = False,
trainer/title_lookup.py): items are their public title vector and category, the history is the
mean of the recent items' title vectors, DP-SGD noises far fewer values, and the model trains
through the ghost clipping pass (tests/trainer/test_ghost_clipping.py checks it against
per-user gradients) and survives a Keras round trip."""
import numpy as np
import tensorflow as tf

from privrec import privacy
from privrec.privacy import user_sampling
from tests.support import synthetic_two_tower as synthetic
from trainer import export, features, layer_cotangents
from trainer.model import TwoTowerModel
from trainer.title_lookup import TitleLookup


def _batch(model):
    sampler = user_sampling.UserSampler(synthetic.examples([3, 2, 4], seed=3),
                                        users_per_step=3, max_examples_per_user=2)
    return model.prepare_batch({name: tf.constant(v) for name, v in next(sampler.batches())
                                .items()})


def test_items_are_their_public_features_and_the_history_their_title_vectors():
    with_ids, without = synthetic.model(), synthetic.model(item_id_embeddings=False)
    assert without.candidate_tower.item_embedding is None
    lookup = without.query_tower.item_embedding
    assert isinstance(lookup, TitleLookup)
    assert lookup.item_title_vectors is without.candidate_tower.item_title_vectors  # one copy
    size = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_variables)  # noqa: E731
    # Fewer trainable values: the id table goes, the query MLP takes 384-d title means.
    table = synthetic.NUM_ITEMS * with_ids.config["embedding_dim"]
    assert size(without) == size(with_ids) - table - 2 * with_ids.config["embedding_dim"] \
        * 64 + 384 * 64
    history = tf.constant([[2, 3, 0]], tf.int64)
    expected = np.mean(without.candidate_tower.item_title_vectors.numpy()[[2, 3]], axis=0)
    np.testing.assert_allclose(
        np.mean(lookup(history).numpy()[0, :2], axis=0), expected, rtol=1e-6)
    assert layer_cotangents.supported(without)  # ghost clipping, no per-user gradients
    # A history lookup that is not the candidate tower's title vectors is not the pass's.
    without.query_tower.item_embedding = TitleLookup(
        without.candidate_tower.item_title_vectors.numpy())
    assert not layer_cotangents.supported(without)


def test_dp_training_moves_the_mlps_and_a_round_trip_keeps_the_outputs(tmp_path):
    model = synthetic.model(item_id_embeddings=False)
    before = [v.numpy().copy() for v in model.trainable_variables]
    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(1.0, 0.0, 3.0))
    trainer.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    trainer.train_step(_batch(model))
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(before, model.trainable_variables))
    loaded = tf.keras.models.load_model(export.save_keras(model, str(tmp_path)))
    assert isinstance(loaded, TwoTowerModel) and not loaded.config["item_id_embeddings"]
    inputs = {features.QUERY_TOKENS: tf.constant(synthetic.examples([2])[features.QUERY_TOKENS]),
              features.HISTORY: tf.constant([[2, 3, 0], [4, 0, 0]], tf.int64)}
    items = tf.range(2, synthetic.NUM_ITEMS, dtype=tf.int64)
    np.testing.assert_allclose(loaded.query_embedding(inputs), model.query_embedding(inputs),
                               atol=1e-5)
    np.testing.assert_allclose(loaded.candidate_embedding(items),
                               model.candidate_embedding(items), atol=1e-5)
