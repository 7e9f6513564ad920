"""Local DP in masking: attributes of the person randomised once per user (keyed PRF), numeric
noise discrete on a grid, every draw from OS entropy whatever seed the process sets."""
import collections
import math

import numpy as np
import pytest
import tensorflow as tf

from components.masking import policy, pseudonymizer, ptransform, randomize
from privrec import randomness


@pytest.fixture(autouse=True)
def _os_entropy(monkeypatch):
    monkeypatch.delenv(randomness.TEST_ONLY_SEED_ENV, raising=False)


def _key(hex_key):
    return pseudonymizer.PseudonymKey(pseudonymizer._parse(hex_key, "test"), hex_key[:8], False)


def _released_gender(key, users, genders):
    transforms = ptransform.column_transforms(policy.load(policy.DEFAULT_POLICY), key)
    rows = {"user_id": tf.constant(users), "gender": tf.constant(genders)}
    return [g.decode() for g in transforms["gender"](rows).numpy()]


def _heavy_users(n_users=300, rows_each=15):
    users = [f"user-{i}" for i in range(n_users) for _ in range(rows_each)]
    genders = ["F" if i % 2 else "M" for i in range(n_users) for _ in range(rows_each)]
    return users, genders


def test_all_rows_of_one_user_carry_the_same_released_gender():
    users, genders = _heavy_users()
    released = _released_gender(_key(pseudonymizer.new_key_hex()), users, genders)
    per_user = collections.defaultdict(set)
    for user, value in zip(users, released):
        per_user[user].add(value)
    assert all(len(values) == 1 for values in per_user.values())
    # Still randomised: a majority vote over a heavy user's rows recovers only what the one
    # release says, which is the truth at rate e^2 / (e^2 + 1) ≈ 0.88, not always.
    truth = dict(zip(users, genders))
    kept = np.mean([values == {truth[u]} for u, values in per_user.items()])
    assert 0.80 < kept < 0.95


def test_a_user_whose_rows_disagree_gets_one_release_per_true_value():
    users = ["u"] * 6 + ["v"] * 4
    genders = ["F", "M", "F", "M", "F", "F", "M", "M", "M", "M"]
    released = _released_gender(_key(pseudonymizer.new_key_hex()), users, genders)
    for user in ("u", "v"):
        by_value = collections.defaultdict(set)
        for u, truth, value in zip(users, genders, released):
            if u == user:
                by_value[truth].add(value)
        assert all(len(values) == 1 for values in by_value.values())


def test_different_keys_release_different_genders_for_some_users_and_one_key_is_stable():
    users, genders = _heavy_users(n_users=200, rows_each=1)
    key_a, key_b = _key(pseudonymizer.new_key_hex()), _key(pseudonymizer.new_key_hex())
    first = _released_gender(key_a, users, genders)
    assert first == _released_gender(key_a, users, genders)  # re-masking draws nothing new
    assert first != _released_gender(key_b, users, genders)


def _numeric_randomizer(method):
    params = {"method": method, "epsilon": 1.0, "delta": 1e-5, "lower": 0.0, "upper": 5.0,
              "granularity": 0.01}
    fn = randomize.randomizer(params, "order_amount")
    return tf.function(lambda values: fn(values, None))


@pytest.mark.parametrize("method", ["laplace", "gaussian"])
def test_noise_under_the_same_global_seed_differs_between_randomisers(method):
    """Fails if a randomiser's draws follow tf.random.set_seed (the Trainer sets 7) or a
    fixed seed of its own: two randomisers built and called under the same seed differ."""
    values = tf.constant(["1.00"] * 64)
    draws = []
    for _ in range(2):
        tf.random.set_seed(7)
        draws.append(_numeric_randomizer(method)(values).numpy())
    assert not np.array_equal(draws[0], draws[1])


def test_per_row_randomized_response_under_the_same_global_seed_differs():
    values = tf.constant(["F"] * 256)
    params = {"method": "randomized_response", "epsilon": 0.5, "domain": ["F", "M"],
              "unit": "row"}
    draws = []
    for _ in range(2):
        tf.random.set_seed(7)
        draws.append(randomize.randomizer(params, "gender")(values, None).numpy().tolist())
    assert draws[0] != draws[1]


def test_the_test_only_switch_makes_the_noise_reproducible(monkeypatch):
    monkeypatch.setenv(randomness.TEST_ONLY_SEED_ENV, "5")
    values = tf.constant(["1.00"] * 64)
    first = _numeric_randomizer("laplace")(values).numpy()
    np.testing.assert_array_equal(first, _numeric_randomizer("laplace")(values).numpy())


@pytest.mark.parametrize("method", ["laplace", "gaussian"])
def test_noise_lies_on_the_grid_with_the_calibrated_scale(method):
    n = 20000
    noised = _numeric_randomizer(method)(tf.constant(["1.23"] * n + [""])).numpy()
    assert np.isnan(noised[-1])
    steps = noised[:-1].astype(np.float64) / 0.01
    assert np.max(np.abs(steps - np.round(steps))) < 1e-3  # on the 0.01 grid
    noise = np.round(steps) - 123
    if method == "laplace":
        # Discrete Laplace of scale t = 500 steps / ε = 500: standard deviation ≈ √2·t.
        expected = math.sqrt(2) * 500
    else:
        expected = randomize.gaussian_stddev(1.0, 1e-5, 0.0, 5.0) / 0.01
    assert abs(np.std(noise) / expected - 1) < 0.04
    assert abs(np.mean(noise)) < 4 * expected / math.sqrt(n)


def test_discrete_gaussian_matches_tf_privacys_sampler():
    """The same distribution as TF-Privacy's discrete Gaussian (whose draws follow the global
    seed, so masking cannot use it as is): variance and tail mass agree."""
    from tensorflow_privacy.privacy.dp_query import discrete_gaussian_utils
    n, sigma = 20000, 40
    generator = tf.random.Generator.from_non_deterministic_state()
    ours = tf.function(lambda: randomize.discrete_gaussian(tf.constant(n), sigma,
                                                           generator))().numpy()
    theirs = discrete_gaussian_utils.sample_discrete_gaussian(sigma, [n], tf.int64).numpy()
    assert ours.dtype == np.int64
    assert abs(np.std(ours) / np.std(theirs) - 1) < 0.04
    assert abs(np.mean(np.abs(ours) > 2 * sigma) - np.mean(np.abs(theirs) > 2 * sigma)) < 0.01
