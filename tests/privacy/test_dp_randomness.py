"""The randomness DP rests on is not predictable from the code (privrec/randomness.py): DP-SGD
noise, the popularity prior's noise and user sampling differ between runs on identical inputs,
whatever seeds the process sets, except under the one test-only switch, which says NOT PRIVATE."""
import ast
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from privrec import randomness
from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Modules whose random draws a DP or local-DP guarantee rests on.
MECHANISM_MODULES = ["privrec/privacy/mechanism.py", "privrec/privacy/noise.py",
                     "privrec/privacy/releases.py", "privrec/privacy/user_sampling.py",
                     "trainer/run.py",
                     "trainer/model.py", "components/masking/randomize.py",
                     "components/masking/ptransform.py"]
SEEDING_CALLS = {"set_seed", "set_random_seed", "from_seed", "seed", "RandomState"}


def _training_draws():
    """What two Trainer runs on identical inputs draw, each in a process seeded with 7 as the
    Trainer used to: the noised mean of the same clipped gradients (the mechanism
    trainer/run.py builds) and the users of the first batches."""
    gradients = [tf.ones([8, 50]), tf.ones([8, 3, 4])]
    noise, users = [], []
    for _ in range(2):
        tf.random.set_seed(7)
        np.random.seed(7)
        dp = privacy.UserLevelDP(l2_norm_clip=1.0, noise_multiplier=1.0,
                                 expected_users_per_step=8.0)
        noise.append(np.concatenate([g.numpy().ravel() for g in dp.noisy_mean(gradients)]))
        sampler = user_sampling.UserSampler(synthetic.examples([3] * 40), users_per_step=8,
                                            max_examples_per_user=2)
        batches = sampler.batches()
        users.append([next(batches)[user_sampling.EXAMPLE_MASK].sum(1).tolist()
                      for _ in range(5)])
    return noise, users


def test_two_training_runs_on_identical_inputs_draw_different_noise_and_users(monkeypatch):
    monkeypatch.delenv(randomness.TEST_ONLY_SEED_ENV, raising=False)
    (first, second), (users_1, users_2) = _training_draws()
    assert not np.allclose(first, second)
    assert users_1 != users_2
    report = privacy.account(40, 8.0, 10, 1.0, 1.0, 2, 120, delta=1e-6)
    assert report.randomness == randomness.PRIVATE


def test_the_test_only_switch_reproduces_runs_and_says_not_private(monkeypatch):
    monkeypatch.setenv(randomness.TEST_ONLY_SEED_ENV, "11")
    (first, second), (users_1, users_2) = _training_draws()
    np.testing.assert_array_equal(first, second)
    assert users_1 == users_2
    report = privacy.account(40, 8.0, 10, 1.0, 1.0, 2, 120, delta=1e-6)
    assert "NOT PRIVATE" in report.randomness
    monkeypatch.setenv(randomness.TEST_ONLY_SEED_ENV, "seven")
    with pytest.raises(ValueError, match="must be an integer seed"):
        randomness.is_private()


def test_the_popularity_prior_draws_fresh_noise_under_a_global_seed(monkeypatch):
    monkeypatch.delenv(randomness.TEST_ONLY_SEED_ENV, raising=False)
    users, items = np.repeat(np.arange(20), 3), np.tile([2, 3, 4], 20)
    releases = []
    for _ in range(2):
        tf.random.set_seed(7)
        releases.append(privacy.popularity_prior(users, items, 6, noise_multiplier=1.0,
                                                   first_item=2))
    assert not np.allclose(releases[0][2:], releases[1][2:])


def test_no_mechanism_module_seeds_its_randomness():
    """A source scan: no call that fixes a seed (tf.random.set_seed, np.random.seed,
    Generator.from_seed, default_rng(<literal>), seed=<literal>) in the modules whose draws
    a DP or local-DP guarantee rests on. Seeds for public draws belong elsewhere."""
    found = []
    for name in MECHANISM_MODULES:
        tree = ast.parse((ROOT / name).read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "attr", getattr(node.func, "id", ""))
            literal_args = [a for a in node.args if isinstance(a, ast.Constant)]
            if called in SEEDING_CALLS or (called == "default_rng" and literal_args):
                found.append(f"{name}:{node.lineno} {called}")
            for keyword in node.keywords:
                if "seed" in (keyword.arg or "") and isinstance(keyword.value, ast.Constant) \
                        and keyword.value.value is not None:
                    found.append(f"{name}:{node.lineno} {keyword.arg}=")
    assert not found, f"seeded randomness in DP mechanisms: {found}"
    assert "seed" not in user_sampling.UserSampler.__init__.__code__.co_varnames
