"""trainer/training.py: the one path from a Trainer config to the model and its DP training
(the Trainer's and the benches')."""
import numpy as np
import pytest

from pipeline import configs
from privrec import privacy
from tests.support import synthetic_two_tower as synthetic
from trainer import catalog as catalog_lib, query_vectors, training

CONFIG = {**vars(configs.TrainerConfig()), "users_per_step": 8, "max_examples_per_user": 4,
          "target_epsilon": 3.0, "popularity_prior_noise": 5.0}


def _sampler():
    return training.user_sampler(synthetic.examples([3] * 60), CONFIG)


def test_settings_calibrate_to_the_target_with_the_dp_count_and_the_prior():
    sampler = _sampler()
    settings = training.dp_settings(CONFIG, sampler, steps=50)
    assert settings.num_users == sampler.users_counted
    assert settings.prior_noise == 5.0 and settings.user_count_noise == 10.0
    report = settings.account(num_examples=180)
    assert 3.0 * 0.97 <= report.epsilon <= 3.0
    assert report.popularity_noise_multiplier == 5.0
    assert report.user_count_noise_multiplier == 10.0
    # A continued model keeps its prior: no new release, so DP-SGD gets the whole target.
    continued = training.dp_settings(CONFIG, sampler, steps=50, continued=True)
    assert continued.prior_noise is None
    assert continued.noise_multiplier < settings.noise_multiplier


def test_build_wraps_the_model_with_the_settings_mechanism_and_releases_the_prior():
    sampler = _sampler()
    settings = training.dp_settings({**CONFIG, "query_max_tokens": synthetic.TOKENS},
                                    sampler, steps=5)
    catalog = catalog_lib.Catalog([f"i{i}" for i in range(6)], [f"title {i}" for i in range(6)],
                                  ["a", "b"] * 3)
    examples = sampler.examples
    labels = examples["item_idx"] % catalog.num_indices
    sampler.examples = {**examples, "item_idx": np.maximum(labels, 2)}
    built = training.build({**CONFIG, "title_max_tokens": 8}, catalog, sampler, settings)
    assert built.trainer.model is built.model
    assert built.trainer.mechanism.noise_multiplier == settings.noise_multiplier
    assert built.trainer.mechanism.expected_users_per_step == pytest.approx(
        sampler.expected_users_per_step)
    assert not hasattr(built.model, "dp")
    prior = built.model.item_log_popularity.numpy()
    assert prior[:2].tolist() == [0, 0] and np.any(prior[2:] > 0)
    assert query_vectors.QUERY_VECTOR in sampler.examples and built.distinct_queries > 0
    assert built.noise_norm_over_clip == pytest.approx(privacy.noise_norm_over_clip(
        settings.noise_multiplier, settings.users_per_step,
        sum(int(np.prod(v.shape)) for v in built.model.trainable_variables)))


def test_the_evaluation_loss_is_the_softmax_over_the_whole_catalog():
    """The loss a run reports before and after training (trainer/run.py): each example's true
    item against every catalog item, so the same model on the same examples always gets the
    same loss, whatever negatives training samples."""
    import tensorflow as tf
    from trainer import features
    from trainer.retrieval_task import TEMPERATURE
    model = synthetic.model(popularity_prior_noise=5.0)
    model.set_popularity_prior(np.linspace(0, 3, synthetic.NUM_ITEMS).astype(np.float32))
    examples = synthetic.examples([4] * 5)
    batch = {k: tf.constant(examples[k]) for k in
             (features.QUERY_TOKENS, features.HISTORY, features.LABEL)}
    first, second = model.test_step(batch)["loss"], model.test_step(batch)["loss"]
    assert float(first) == float(second)
    items = tf.range(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, dtype=tf.int64)
    logits = (tf.matmul(model.query_embedding(batch), model.candidate_embedding(items),
                        transpose_b=True) / TEMPERATURE
              + model.item_log_popularity.numpy()[catalog_lib.FIRST_ITEM_INDEX:]).numpy()
    true = logits[np.arange(len(logits)), examples[features.LABEL] - catalog_lib.FIRST_ITEM_INDEX]
    expected = np.mean(np.log(np.exp(logits).sum(1)) - true)
    assert float(first) == pytest.approx(expected, rel=1e-5)


def test_with_ema_momentum_training_ends_on_the_moving_average_of_the_steps_weights():
    """TrainerConfig.ema_momentum: fit leaves the weights' exponential moving average over the
    steps (from the initial weights, the momentum of update n min(momentum, (1 + n) / (10 + n))
    as tf.train.ExponentialMovingAverage's num_updates), not the last step's weights."""
    import tensorflow as tf
    config = {**CONFIG, "popularity_prior_noise": None, "ema_momentum": 0.45,
              "learning_rate": 0.05, "query_max_tokens": synthetic.TOKENS,
              "title_max_tokens": synthetic.TOKENS}
    sampler = _sampler()
    settings = training.dp_settings(config, sampler, steps=12)
    items = synthetic.NUM_ITEMS - catalog_lib.FIRST_ITEM_INDEX  # the examples' item indices
    catalog = catalog_lib.Catalog([f"i{i}" for i in range(items)],
                                  [f"title {i}" for i in range(items)], ["a", "b"] * (items // 2))
    built = training.build(config, catalog, sampler, settings)
    variables = built.model.trainable_variables
    average = [v.numpy() for v in variables]
    steps_weights = []

    class RecordWeights(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps_weights.append([v.numpy() for v in variables])

    built.trainer.fit(sampler.dataset(), steps_per_epoch=12, epochs=1, verbose=0,
                      callbacks=[RecordWeights()])
    for n, weights in enumerate(steps_weights):
        momentum = min(0.45, (1 + n) / (10 + n))  # 0.1, 0.18, ..., 0.44, then 0.45
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
    assert len(steps_weights) == 12
    assert any(not np.allclose(v.numpy(), w) for v, w in zip(variables, steps_weights[-1]))
    for v, want in zip(variables, average):
        np.testing.assert_allclose(v.numpy(), want, rtol=1e-5, atol=1e-7)


def test_ema_momentum_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="ema_momentum"):
        privacy.make_optimizer({"learning_rate": 0.01, "ema_momentum": 1.0})


def test_the_averages_momentum_ramps_up_to_the_configured_one():
    from privrec.privacy.weight_averaging import momentum_at
    assert float(momentum_at(0.99, 0)) == pytest.approx(0.1)
    assert float(momentum_at(0.99, 90)) == pytest.approx(0.91)
    assert float(momentum_at(0.99, 2000)) == pytest.approx(0.99)
