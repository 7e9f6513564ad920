"""The candidate tower (trainer/candidate_tower.py): unit candidate embeddings from an item's id,
category and title vector, the catalog carried as its weights, and a Keras round trip that keeps
its outputs."""
import numpy as np
import pytest
import tensorflow as tf

from trainer.candidate_tower import CandidateTower

NUM_ITEMS, DIM, TOKENS = 12, 16, 5


def _catalog(seed=0):
    rng = np.random.default_rng(seed)
    return dict(item_category=rng.integers(0, 4, NUM_ITEMS),
                item_title_tokens=rng.integers(5, 3000, [NUM_ITEMS, TOKENS]),
                item_title_vectors=rng.normal(size=[NUM_ITEMS, 384]).astype(np.float32))


@pytest.fixture(scope="module")
def tower():
    return CandidateTower(NUM_ITEMS, DIM, **_catalog())


def test_candidate_embeddings_have_the_embedding_dim_and_unit_norm(tower):
    got = tower(tf.constant([2, 3, 11], tf.int64)).numpy()
    assert got.shape == (3, DIM) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=-1), 1.0, rtol=1e-5)
    batched = tower(tf.constant([[2, 3], [11, 2]], tf.int64)).numpy()
    assert batched.shape == (2, 2, DIM)
    np.testing.assert_allclose(batched[0, 0], got[0], atol=1e-6)


def test_the_catalog_it_holds_is_the_one_it_was_built_with(tower):
    catalog = _catalog()
    assert tower.num_categories == int(catalog["item_category"].max()) + 1
    np.testing.assert_array_equal(tower.item_title_vectors.numpy(),
                                  catalog["item_title_vectors"])
    assert tower.catalog_matches(catalog["item_category"], catalog["item_title_tokens"])
    other = catalog["item_category"].copy()
    other[3] = (other[3] + 1) % 4
    assert not tower.catalog_matches(other, catalog["item_title_tokens"])
    assert not tower.catalog_matches(catalog["item_category"][:-1],
                                     catalog["item_title_tokens"][:-1])


def test_only_the_embeddings_and_the_mlp_are_trainable(tower):
    trainable = {v.ref() for v in tower.trainable_variables}
    assert {v.ref() for v in tower.item_embedding.trainable_variables} <= trainable
    assert not trainable & {v.ref() for v in (tower.item_category, tower.item_title_tokens,
                                              tower.item_title_vectors)}
    assert len(tower.trainable_variables) == 2 + 4  # two tables, two Dense layers' kernel, bias


def test_a_config_round_trip_gives_the_same_outputs_after_set_weights(tower):
    """The config holds the catalog's shapes only; its values come with the weights."""
    assert tf.keras.utils.get_registered_name(CandidateTower) == "privrec>CandidateTower"
    clone = CandidateTower.from_config(tower.get_config())
    assert clone.get_config() == tower.get_config()
    assert not np.any(clone.item_title_vectors.numpy())
    clone.set_weights(tower.get_weights())
    items = tf.constant([2, 5, 7, 11], tf.int64)
    np.testing.assert_array_equal(clone(items).numpy(), tower(items).numpy())
    catalog = _catalog()
    assert clone.catalog_matches(catalog["item_category"], catalog["item_title_tokens"])


def test_without_item_ids_the_flag_follows_the_tower_and_survives_a_config_round_trip():
    """`item_id_embeddings` is whether the tower has an id embedding: read-only, and still the
    saved config's key."""
    tower = CandidateTower(NUM_ITEMS, DIM, item_id_embeddings=False, **_catalog())
    assert tower.item_embedding is None and not tower.item_id_embeddings
    with pytest.raises(AttributeError):
        tower.item_id_embeddings = True
    config = tower.get_config()
    assert config["item_id_embeddings"] is False
    clone = CandidateTower.from_config(config)
    assert clone.item_embedding is None and clone.get_config() == config
    clone.set_weights(tower.get_weights())
    items = tf.constant([2, 5, 11], tf.int64)
    np.testing.assert_array_equal(clone(items).numpy(), tower(items).numpy())
