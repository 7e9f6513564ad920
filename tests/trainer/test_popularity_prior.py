"""The DP popularity prior (TrainerConfig.popularity_prior_noise): a Gaussian mechanism over
users whose ε composes with DP-SGD's, added to the logits in training and in ranking."""
import dp_accounting
import numpy as np
import pytest
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling
from trainer import catalog as catalog_lib, export, features
from trainer.retrieval_task import TEMPERATURE

RUN = dict(num_users=900, users_per_step=64, steps=300)
DATA = dict(max_examples_per_user=8, num_examples=50_000, l2_norm_clip=1.0)


def _prior(user_items, num_indices, noise_multiplier):
    """The prior of users given as one array of item indices each (user i: user_items[i])."""
    users = np.repeat(np.arange(len(user_items)), [len(items) for items in user_items])
    items = np.concatenate([np.asarray(items, np.int64) for items in user_items] or [[]])
    return privacy.popularity_prior(users, items, num_indices, noise_multiplier, first_item=2)


def test_each_user_moves_the_noiseless_counts_by_at_most_one():
    """Sensitivity 1: a user's counts are scaled to norm 1 however many rows they have."""
    users = [np.array([2, 2, 2, 5]), np.array([3] * 500 + [4] * 20), np.array([6])]
    without = np.expm1(_prior(users[:2], 8, noise_multiplier=1e-9))
    with_user = np.expm1(_prior(users, 8, noise_multiplier=1e-9))
    np.testing.assert_allclose(with_user - without, [0, 0, 0, 0, 0, 0, 1, 0], atol=1e-5)
    heavy = np.array([500, 20]) / np.hypot(500, 20)  # the 520-row user counts as norm 1
    np.testing.assert_allclose(without[3:5], heavy, atol=1e-5)
    assert without[:2].tolist() == [0, 0]  # padding and unknown are never candidates


def test_interactions_in_any_order_and_user_keys_give_the_per_user_counts():
    """The vectorised pass equals each user's count vector scaled to norm ≤ 1, summed; users
    may be any keys (the sampler's indices, pseudonyms) and interactions come in any order."""
    rng = np.random.default_rng(3)
    users = rng.choice([b"u-%d" % i for i in range(300)], 5_000)
    items = rng.integers(2, 60, len(users))
    want = np.zeros(60)
    for user in np.unique(users):
        counts = np.bincount(items[users == user], minlength=60)
        want += counts / max(np.linalg.norm(counts), 1.0)
    got = np.expm1(privacy.popularity_prior(users, items, 60, noise_multiplier=1e-9,
                                             first_item=2))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="one user per interaction: 2 users for 3 items"):
        privacy.popularity_prior([1, 2], [2, 3, 4], 8, noise_multiplier=1.0, first_item=2)


def test_the_samplers_interactions_are_its_examples_users_and_labels():
    """The Trainer releases the prior from UserSampler.user_items: every example once, with
    its own user's index (users in the sampler's order) and label."""
    keys = np.array([b"b", b"a", b"c", b"a", b"b", b"a"])
    labels = np.array([[5], [2], [7], [3], [5], [2]])
    sampler = user_sampling.UserSampler({features.USER_KEY: keys, features.LABEL: labels},
                                        users_per_step=1, max_examples_per_user=2)
    users, items = sampler.user_items(features.LABEL)
    assert sorted(zip(np.array([b"a", b"b", b"c"])[users].tolist(), items.tolist())) == \
        sorted(zip(keys.tolist(), labels.reshape(-1).tolist()))


def test_each_count_gets_gaussian_noise_of_the_noise_multiplier():
    """No users: each item's count is pure noise, N(0, σ²), floored at 0 before log(1 + ·)."""
    sigma, items = 3.0, 20_000
    counts = np.expm1(_prior([], items + 2, noise_multiplier=sigma)[2:])
    assert abs(np.mean(counts == 0) - 0.5) < 0.02
    # The positive half of N(0, σ²) has mean σ·√(2/π).
    assert np.mean(counts[counts > 0]) == pytest.approx(sigma * np.sqrt(2 / np.pi), rel=0.05)
    with pytest.raises(ValueError, match="popularity_prior_noise must be > 0"):
        _prior([], 4, noise_multiplier=0.0)


def test_the_priors_epsilon_composes_with_dp_sgds():
    sgd = privacy.account(noise_multiplier=1.5, **RUN, **DATA)
    both = privacy.account(noise_multiplier=1.5, popularity_noise_multiplier=5.0, **RUN, **DATA)
    q = RUN["users_per_step"] / RUN["num_users"]
    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(5.0))
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(1.5)),
        RUN["steps"]))
    assert both.epsilon == pytest.approx(accountant.get_epsilon(both.delta))
    assert both.epsilon > sgd.epsilon
    assert both.runs[-1]["popularity_noise_multiplier"] == 5.0
    assert "popularity_noise_multiplier" not in sgd.runs[-1]
    assert both.popularity_noise_multiplier == 5.0 and "popularity prior" in both.statement
    # A later run that continues this model replays the prior once, from the ledger of runs.
    later = privacy.account(noise_multiplier=1.5, earlier_runs=both.runs, **RUN, **DATA)
    assert later.epsilon == pytest.approx(privacy.composed_epsilon(
        [both.runs[0], sgd.runs[0]], later.delta))


def test_calibration_leaves_dp_sgd_what_the_prior_does_not_spend():
    sigma = privacy.noise_for_target_epsilon(2.0, **RUN, popularity_noise=5.0)
    assert sigma > privacy.noise_for_target_epsilon(2.0, **RUN)
    report = privacy.account(noise_multiplier=sigma, popularity_noise_multiplier=5.0,
                             **RUN, **DATA)
    assert 2.0 * 0.97 <= report.epsilon <= 2.0
    with pytest.raises(ValueError, match="raise TrainerConfig.popularity_prior_noise"):
        privacy.noise_for_target_epsilon(0.3, **RUN, popularity_noise=1.0)


def _model_with_prior():
    model = synthetic.model(popularity_prior_noise=5.0)
    prior = np.random.default_rng(4).uniform(0, 3, synthetic.NUM_ITEMS).astype(np.float32)
    model.item_log_popularity.assign(prior)
    return model, prior


def test_the_prior_shifts_each_logit_by_the_items_log_popularity():
    model, prior = _model_with_prior()
    plain = synthetic.model()
    assert plain.item_log_popularity is None
    labels, negatives = tf.constant([2, 7, 9], tf.int64), tf.constant([7, 4, 11], tf.int64)
    positive, negative = tf.constant([0.3, -0.1, 0.8]), tf.random.uniform([3, 3], -1, 1)
    logits = np.concatenate([positive.numpy()[:, None] / TEMPERATURE + prior[[2, 7, 9]][:, None],
                             negative.numpy() / TEMPERATURE + prior[[7, 4, 11]]], 1)
    logits[1, 1] = -1e9  # label 7 is also negative 7: an accidental hit, masked
    want = np.log(np.exp(logits).sum(1)) - logits[:, 0]
    np.testing.assert_allclose(model.task(positive, negative, labels, negatives,
                                          model.item_log_popularity), want,
                               rtol=1e-5, atol=2e-6)  # float32 logsumexp near a loss of 0


def test_ranking_scores_are_cosine_plus_temperature_times_the_prior_and_survive_saving(tmp_path):
    model, prior = _model_with_prior()
    examples = synthetic.examples([3])
    queries = {name: tf.constant(examples[name]) for name in (features.QUERY_TOKENS,
                                                              features.HISTORY)}
    items = tf.range(catalog_lib.FIRST_ITEM_INDEX, synthetic.NUM_ITEMS, dtype=tf.int64)
    cosine = tf.matmul(model.query_embedding(queries), model.candidate_embedding(items),
                       transpose_b=True).numpy()
    scores = tf.matmul(model.scoring_query(queries), model.scoring_candidates(items),
                       transpose_b=True).numpy()
    np.testing.assert_allclose(scores, cosine + TEMPERATURE * prior[2:], rtol=1e-5, atol=1e-6)
    export.save_keras(model, str(tmp_path))
    loaded = export.load_keras(str(tmp_path))
    np.testing.assert_array_equal(loaded.item_log_popularity.numpy(), prior)


def test_rare_items_first_draws_each_users_examples_by_their_items_dp_count():
    """TrainerConfig.rare_item_exponent: a user with more than k examples has them drawn with
    weight (1 + DP count)^-α from the model's prior, so rare items come first; users' draws
    stay their own rows; α without a prior is refused."""
    from trainer import training
    model, prior = _model_with_prior()
    rows_per_user = [40, 3, 25]
    examples = synthetic.examples(rows_per_user)
    sampler = user_sampling.UserSampler(examples, users_per_step=3, max_examples_per_user=4)
    training.weight_rare_items_first(sampler, model, 1.5)
    labels = examples[features.LABEL]
    np.testing.assert_allclose(sampler.row_weights, np.exp(-1.5 * prior[labels]), rtol=1e-6)
    drawn = np.zeros(len(labels))
    batches = sampler.batches()
    for _ in range(600):
        batch = next(batches)
        mask = batch[user_sampling.EXAMPLE_MASK]
        for slot in np.flatnonzero(mask.sum(1)):
            # Rows are told apart by their query tokens (random, so unique here).
            for tokens in batch[features.QUERY_TOKENS][slot][mask[slot] > 0]:
                drawn[np.flatnonzero((examples[features.QUERY_TOKENS] == tokens).all(1))] += 1
    heavy = np.arange(40)  # user 0: 40 rows, 4 drawn a step
    rare, common = heavy[prior[labels[heavy]] < 1.0], heavy[prior[labels[heavy]] > 2.0]
    assert drawn[rare].mean() > 2.5 * drawn[common].mean()
    light = np.arange(40, 43)  # user 1: 3 rows, all drawn whenever sampled
    assert drawn[light].min() == drawn[light].max() > 0
    with pytest.raises(ValueError, match="popularity_prior_noise"):
        training.weight_rare_items_first(sampler, synthetic.model(), 1.0)
    with pytest.raises(ValueError, match="one per example"):
        sampler.weight_rows(np.ones(3))
