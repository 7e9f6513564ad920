"""Empirical privacy audit (audit/epsilon_lower_bound.py) of the two DP releases of training:
the popularity prior and one DP-SGD step's noised gradient sum, each released 2,000 times on
neighbouring data sets D and D + one user. The measured ε lower bound must stay at or below the
ε the accountant claims; the same audit of a seeded mechanism (what the Trainer did when it
called tf.random.set_seed(7)) must exceed it, so the audit can fail."""
import dp_accounting
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_privacy.privacy.dp_query import gaussian_query

from audit.epsilon_lower_bound import clopper_pearson, epsilon_lower_bound
from privrec import privacy

TRIALS, DELTA, SIGMA = 2_000, 1e-5, 2.0
AUDITED_ITEM = 5


def _claimed_epsilon(noise_multiplier: float) -> float:
    """ε at DELTA of one Gaussian mechanism of this noise multiplier (sensitivity 1)."""
    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(noise_multiplier))
    return float(accountant.get_epsilon(DELTA))


def _interactions(with_extra_user: bool):
    """30 users over items 2..9; the extra user only ever bought AUDITED_ITEM (their count
    vector has norm ≥ 1, so they add exactly 1 to that item's sum)."""
    rng = np.random.default_rng(0)  # the data set, not the mechanism
    users = np.repeat(np.arange(30), 6)
    items = rng.integers(2, 10, len(users))
    if with_extra_user:
        users, items = np.append(users, [30] * 4), np.append(items, [AUDITED_ITEM] * 4)
    return users, items


def _prior_releases(release) -> tuple:
    scores = {}
    for neighbour in (True, False):
        users, items = _interactions(neighbour)
        scores[neighbour] = [release(users, items)[AUDITED_ITEM] for _ in range(TRIALS)]
    return scores[True], scores[False]


def test_clopper_pearson_matches_the_exact_binomial_interval():
    low, high = clopper_pearson(0, 100, 0.05)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 100))
    low, high = clopper_pearson(50, 100, 0.05)
    assert low == pytest.approx(0.3983, abs=1e-4) and high == pytest.approx(0.6017, abs=1e-4)


def test_the_popularity_prior_leaks_no_more_than_its_claimed_epsilon():
    claimed = _claimed_epsilon(SIGMA)
    scores_in, scores_out = _prior_releases(
        lambda users, items: privacy.popularity_prior(users, items, 10, SIGMA, first_item=2))
    bound = epsilon_lower_bound(scores_in, scores_out, DELTA)
    assert bound <= claimed, (bound, claimed)
    assert np.std(scores_out) > 0  # each release drew fresh noise


def test_a_seeded_prior_is_caught_by_the_audit():
    """The audit's power: noise replayed from a seed (TF-Privacy's query under
    tf.random.set_seed) is subtracted by the attacker, whatever σ the accountant assumed."""
    query = gaussian_query.GaussianSumQuery(1.0, SIGMA)
    scores, trials = {}, 500  # enough to bound ε above the claim when the noise is replayed
    for neighbour in (True, False):
        noiseless = privacy.popularity_prior(*_interactions(neighbour), 10, 1e-9, first_item=2)
        counts = tf.constant(np.expm1(noiseless), tf.float32)
        scores[neighbour] = []
        for _ in range(trials):
            tf.random.set_seed(7)
            noised = query.get_noised_result(counts, query.initial_global_state())[0]
            scores[neighbour].append(float(noised[AUDITED_ITEM]))
    assert epsilon_lower_bound(scores[True], scores[False], DELTA) > _claimed_epsilon(SIGMA)


def test_one_dp_sgd_step_leaks_no_more_than_its_claimed_epsilon():
    """One step's noised mean (UserLevelDP.noisy_mean) without subsampling is one Gaussian
    mechanism over users; the extra user's gradient is 10× the clip norm, clipped to C. The
    attacker projects the release on that user's direction."""
    dp = privacy.UserLevelDP(l2_norm_clip=1.0, noise_multiplier=SIGMA,
                             expected_users_per_step=4.0)
    rng = np.random.default_rng(1)  # the data set, not the mechanism
    others = tf.constant(rng.normal(size=(4, 16)), tf.float32)
    direction = rng.normal(size=16)
    direction /= np.linalg.norm(direction)
    extra = tf.constant(10.0 * direction[np.newaxis], tf.float32)
    scores = {}
    for name, gradients in (("in", tf.concat([others, extra], 0)), ("out", others)):
        step = tf.function(lambda g=gradients: dp.noisy_mean([g])[0])
        scores[name] = [float(np.dot(step().numpy(), direction)) for _ in range(TRIALS)]
    bound = epsilon_lower_bound(scores["in"], scores["out"], DELTA)
    assert bound <= _claimed_epsilon(SIGMA), bound
    assert np.std(scores["out"]) > 0
