"""Query vectors computed once per distinct query before training (trainer/query_vectors.py)
give the same vectors and the same per-user gradients as encoding the tokens in each step."""
import numpy as np
import pytest
import tensorflow as tf

from privrec import randomness
from tests.support import synthetic_two_tower as synthetic
from privrec.privacy import user_sampling
from trainer import features, query_vectors


def _repeated_queries():
    """Synthetic examples where users repeat queries (7 distinct over 15 rows)."""
    examples = synthetic.examples([5, 2, 8])
    examples[features.QUERY_TOKENS] = examples[features.QUERY_TOKENS][np.arange(15) % 6]
    examples[features.QUERY_TOKENS][0, 3:] = 0  # one shorter query (padding trimmed per batch)
    return examples


def test_each_example_gets_its_own_querys_vector_from_one_row_per_distinct_query():
    model = synthetic.model()
    examples = _repeated_queries()
    precomputed = query_vectors.precompute(examples, model.query_tower.text_encoder, batch=4)
    assert features.QUERY_TOKENS not in precomputed
    rows = precomputed[query_vectors.QUERY_VECTOR]
    assert rows.table.shape == (7, model.query_tower.text_encoder.dim) and rows.shape == (15, 384)
    direct = model.query_tower.text_encoder(tf.constant(examples[features.QUERY_TOKENS])).numpy()
    np.testing.assert_allclose(rows[np.arange(15)], direct, atol=1e-5)
    np.testing.assert_allclose(rows[3:7], direct[3:7], atol=1e-5)


def test_per_user_gradients_are_the_same_with_precomputed_query_vectors(monkeypatch):
    monkeypatch.setenv(randomness.TEST_ONLY_SEED_ENV, "5")  # both samplers draw the same users
    model = synthetic.model()
    examples = _repeated_queries()
    with_tokens = user_sampling.UserSampler(examples, users_per_step=3, max_examples_per_user=4)
    with_vectors = user_sampling.UserSampler(
        query_vectors.precompute(examples, model.query_tower.text_encoder), users_per_step=3,
        max_examples_per_user=4)
    batch = {k: tf.constant(v) for k, v in next(with_tokens.batches()).items()}
    precomputed = {k: tf.constant(v) for k, v in next(with_vectors.batches()).items()}
    assert query_vectors.QUERY_VECTOR in precomputed and features.QUERY_TOKENS not in precomputed
    np.testing.assert_array_equal(batch[features.LABEL], precomputed[features.LABEL])
    negatives = model.sample_negatives()
    expected, expected_losses = synthetic.user_gradients(model, batch, negatives)
    got, losses = synthetic.user_gradients(model, precomputed, negatives)
    np.testing.assert_allclose(losses.numpy(), expected_losses.numpy(), rtol=1e-5)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-5)


def test_a_trained_text_encoder_cannot_use_precomputed_vectors():
    model = synthetic.model(text_trainable_layers=1)
    with pytest.raises(ValueError, match="frozen text encoder"):
        query_vectors.precompute(_repeated_queries(), model.query_tower.text_encoder)
