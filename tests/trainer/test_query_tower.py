"""The query tower (trainer/query_tower.py): unit query embeddings from the query text and the
recent items, the history's padding index 0 ignored, the item embedding it is given used (not
copied), and a Keras round trip that keeps its outputs."""
import numpy as np
import pytest
import tensorflow as tf

from trainer import features, value_gather
from trainer.query_tower import QueryTower
from trainer.query_vectors import QUERY_VECTOR
from trainer.text_encoder import TextEncoder

NUM_ITEMS, DIM = 10, 16


@pytest.fixture(scope="module")
def tower():
    return QueryTower(DIM, value_gather.Embedding(NUM_ITEMS, DIM), TextEncoder())


def _inputs(history, seed=0):
    history = tf.constant(history, tf.int64)
    vectors = np.random.default_rng(seed).normal(size=[history.shape[0], 384])
    return {features.HISTORY: history, QUERY_VECTOR: tf.constant(vectors, tf.float32)}


def test_query_embeddings_have_the_embedding_dim_and_unit_norm(tower):
    got = tower(_inputs([[1, 2, 0], [3, 0, 0], [0, 0, 0]])).numpy()
    assert got.shape == (3, DIM) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=-1), 1.0, rtol=1e-5)


def test_the_history_mean_ignores_padding_index_0(tower):
    """Index 0 pads short histories: however many pads, and whatever row 0 holds, the same
    query embedding."""
    short = tower(_inputs([[4, 7]])).numpy()
    padded = tower(_inputs([[4, 0, 7, 0, 0]])).numpy()
    np.testing.assert_allclose(padded, short, atol=1e-6)
    table = tower.item_embedding.embeddings
    saved = table.numpy()
    try:
        table.assign(tf.tensor_scatter_nd_update(saved, [[0]], [np.full(DIM, 100.0)]))
        np.testing.assert_allclose(tower(_inputs([[4, 0, 7, 0, 0]])).numpy(), short, atol=1e-6)
        assert np.all(np.isfinite(tower(_inputs([[0, 0, 0]])).numpy()))  # no history at all
    finally:
        table.assign(saved)


def test_the_query_text_paths_agree(tower):
    """Tokens through MiniLM (serving), and the vector precomputed from them for a [users, k]
    batch (prepare_batch, training), give the same embedding."""
    tokens = tf.constant([[101, 2000, 3000, 102, 0], [101, 2500, 102, 0, 0]], tf.int64)
    history = tf.constant([[1, 2], [3, 0]], tf.int64)
    prepared = tower.prepare_batch({features.HISTORY: history[:, tf.newaxis],
                                    features.QUERY_TOKENS: tokens[:, tf.newaxis]})
    assert prepared[QUERY_VECTOR].shape == (2, 1, 384)
    np.testing.assert_allclose(
        tower(prepared).numpy()[:, 0],
        tower({features.HISTORY: history, features.QUERY_TOKENS: tokens}).numpy(), atol=1e-5)


def test_an_empty_query_is_the_zero_vector_and_trains_no_text_weight(tower):
    """A query without words ([CLS] [SEP]: a click or order) encodes to zeros on every path,
    so the query MLP's weights on the text get no gradient from it; a real query's vector is a
    unit vector."""
    tokens = tf.constant([[101, 102, 0, 0], [101, 2000, 3000, 102]], tf.int64)
    vectors = tower.text_encoder(tokens).numpy()
    np.testing.assert_array_equal(vectors[0], 0.0)
    np.testing.assert_allclose(np.linalg.norm(vectors[1]), 1.0, rtol=1e-5)
    history = tf.constant([[1, 2], [3, 0]], tf.int64)
    prepared = tower.prepare_batch({features.HISTORY: history[:, tf.newaxis],
                                    features.QUERY_TOKENS: tokens[:, tf.newaxis]})
    np.testing.assert_array_equal(prepared[QUERY_VECTOR].numpy()[0], 0.0)
    kernel = tower.mlp.layers[0].kernel
    for row, expect_gradient in ((0, False), (1, True)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tower({features.HISTORY: history[row:row + 1],
                                        features.QUERY_TOKENS: tokens[row:row + 1]}))
        text_rows = tape.gradient(loss, kernel).numpy()[:384]
        assert np.any(text_rows != 0) == expect_gradient


def test_the_item_embedding_given_is_the_one_used():
    items = value_gather.Embedding(NUM_ITEMS, DIM)
    tower = QueryTower(DIM, items, TextEncoder())
    assert tower.item_embedding is items
    assert sum(v is items.embeddings for v in tower.trainable_variables) == 1


def test_a_config_round_trip_gives_the_same_outputs_after_set_weights(tower):
    assert tf.keras.utils.get_registered_name(QueryTower) == "privrec>QueryTower"
    clone = QueryTower.from_config(tower.get_config())
    assert clone.item_embedding is not tower.item_embedding
    clone.set_weights(tower.get_weights())
    inputs = _inputs([[1, 2, 0], [5, 9, 3]], seed=1)
    np.testing.assert_array_equal(clone(inputs).numpy(), tower(inputs).numpy())
