"""Projected title and query vectors (TrainerConfig.title_dims, trainer/title_projection.py): the
catalog titles' top principal directions, the same projection for titles and queries, an empty
query still the zero vector, and a saved model that rebuilds with the same outputs."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from trainer import catalog as catalog_lib, features
from trainer.model import TwoTowerModel
from trainer.title_projection import principal_directions

DIMS = 5


def test_principal_directions_are_orthonormal_and_keep_the_titles_main_directions():
    rng = np.random.default_rng(0)
    # 200 titles near a 3-d subspace of 20 dimensions
    titles = rng.normal(size=[200, 3]) @ rng.normal(size=[3, 20]) + 0.01 * rng.normal(
        size=[200, 20])
    directions = principal_directions(titles, 3)
    assert directions.shape == (20, 3)
    np.testing.assert_allclose(directions.T @ directions, np.eye(3), atol=1e-5)
    kept = np.linalg.norm(titles @ directions) / np.linalg.norm(titles)
    assert kept > 0.999
    with pytest.raises(ValueError, match="title_dims must be in 1..19"):
        principal_directions(titles, 20)


@pytest.fixture(scope="module")
def model():
    return synthetic.model(item_id_embeddings=False, title_dims=DIMS)


def test_titles_and_queries_go_through_the_catalogs_projection(model):
    full = synthetic.model(item_id_embeddings=False)  # the same catalog, 384-d vectors
    titles = full.candidate_tower.item_title_vectors.numpy()
    projection = model.query_tower.text_projection.numpy()
    np.testing.assert_allclose(
        projection, principal_directions(titles[catalog_lib.FIRST_ITEM_INDEX:], DIMS),
        atol=1e-5)
    np.testing.assert_allclose(model.candidate_tower.item_title_vectors.numpy(),
                               titles @ projection, atol=1e-5)
    tokens = tf.constant([[101, 102, 0, 0], [101, 2000, 3000, 102]], tf.int64)
    text = model.query_tower.text_input(model.query_tower.text_encoder(tokens)).numpy()
    assert text.shape == (2, DIMS)
    np.testing.assert_array_equal(text[0], 0.0)  # no query: still the zero vector
    np.testing.assert_allclose(
        text[1], full.query_tower.text_encoder(tokens).numpy()[1] @ projection, atol=1e-5)


def test_a_rebuilt_model_scores_as_the_trained_one(model):
    rebuilt = TwoTowerModel.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    inputs = {features.HISTORY: tf.constant([[3, 4, 0]], tf.int64),
              features.QUERY_TOKENS: tf.constant([[101, 2000, 3000, 102, 0, 0]], tf.int64)}
    items = tf.range(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, dtype=tf.int64)
    for m in (model, rebuilt):
        assert m.query_tower.text_projection.shape == (384, DIMS)
    np.testing.assert_allclose(
        rebuilt.query_embedding(inputs).numpy() @ rebuilt.candidate_embedding(items).numpy().T,
        model.query_embedding(inputs).numpy() @ model.candidate_embedding(items).numpy().T,
        atol=1e-5)
