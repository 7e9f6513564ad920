"""Item-id rows for frequent items only (TrainerConfig.item_id_min_count,
trainer/selected_item_ids.py): chosen by the popularity prior's DP counts, the other items share
the unknown item's row, a DP step puts no user gradient on their own rows, and the selection is
saved with the model."""
import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling
from trainer import catalog as catalog_lib, export, training

MIN_COUNT = 5.0


def _model():
    """A model whose prior makes the even item indices frequent (DP count 9), the odd rare (2)."""
    model = synthetic.model(popularity_prior_noise=5.0, item_id_min_count=MIN_COUNT,
                            negatives_per_step=12)
    counts = np.where(np.arange(synthetic.NUM_ITEMS) % 2 == 0, 9.0, 2.0)
    model.item_log_popularity.assign(np.log1p(counts).astype(np.float32))
    training.keep_ids_of_frequent_items(model, MIN_COUNT)
    return model


def test_items_below_the_dp_count_share_the_unknown_items_row():
    model = _model()
    table = model.candidate_tower.item_embedding
    items = np.arange(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS)
    rows = table.id_rows.numpy()
    assert rows[:catalog_lib.FIRST_ITEM_INDEX].tolist() == [0, 1]
    np.testing.assert_array_equal(rows[items], np.where(items % 2 == 0, items,
                                                        catalog_lib.UNKNOWN_INDEX))
    vectors = table(tf.constant(items)).numpy()
    weights = table.embeddings.numpy()
    np.testing.assert_array_equal(vectors[items % 2 == 1],
                                  np.broadcast_to(weights[catalog_lib.UNKNOWN_INDEX],
                                                  vectors[items % 2 == 1].shape))
    np.testing.assert_array_equal(vectors[items % 2 == 0], weights[items[items % 2 == 0]])


def test_a_dp_step_puts_no_user_gradient_on_the_rows_of_rare_items():
    model = _model()
    users = model.prepare_batch({name: tf.constant(v) for name, v in next(
        user_sampling.UserSampler(synthetic.examples([6, 4, 8], seed=5), users_per_step=3,
                                  max_examples_per_user=6).batches()).items()})
    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(1.0, 0.0,
                                                              expected_users_per_step=3.0))
    gradients, _ = trainer.private_gradients(users, model.sample_negatives())
    table = model.candidate_tower.item_embedding.embeddings
    (gradient,) = [g for g, v in zip(gradients, model.trainable_variables) if v is table]
    per_row = np.abs(tf.convert_to_tensor(gradient).numpy()).sum(1)
    rare = np.arange(catalog_lib.FIRST_ITEM_INDEX + 1, synthetic.NUM_ITEMS, 2)
    assert not per_row[rare].any()
    assert per_row[catalog_lib.UNKNOWN_INDEX] > 0  # the rare items' shared row learns
    assert per_row[np.arange(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, 2)].any()


def test_the_selection_is_saved_with_the_model(tmp_path):
    model = _model()
    export.save_keras(model, str(tmp_path))
    loaded = export.load_keras(str(tmp_path))
    np.testing.assert_array_equal(loaded.candidate_tower.item_embedding.id_rows.numpy(),
                                  model.candidate_tower.item_embedding.id_rows.numpy())
    items = tf.range(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, dtype=tf.int64)
    np.testing.assert_allclose(loaded.candidate_embedding(items).numpy(),
                               model.candidate_embedding(items).numpy(), rtol=1e-6)


def test_selecting_needs_the_prior_and_item_ids():
    with pytest.raises(ValueError, match="popularity_prior_noise"):
        training.keep_ids_of_frequent_items(synthetic.model(item_id_min_count=MIN_COUNT),
                                            MIN_COUNT)
    with pytest.raises(ValueError, match="needs item_id_embeddings"):
        synthetic.model(item_id_embeddings=False, item_id_min_count=MIN_COUNT)


def test_the_privacy_report_says_what_training_read_from_the_priors_counts():
    from privrec.privacy.report import prior_use_text
    model = _model()
    evens = len(range(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, 2))
    uses = training.prior_uses({"rare_item_exponent": 0.5, "item_id_min_count": MIN_COUNT},
                               model)
    assert uses == {"rare_item_exponent": 0.5, "item_id_min_count": MIN_COUNT,
                    "items_with_own_id_rows": evens}
    assert prior_use_text(uses) == (
        f"examples drawn rare items first (α 0.5); own item-id rows for {evens} items (DP "
        "count >= 5), the rest share one")
    assert training.prior_uses({}, synthetic.model()) == {} and prior_use_text({}) == ""
