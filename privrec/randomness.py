"""Where the randomness that a privacy guarantee rests on comes from.

DP-SGD noise, the popularity prior's noise, Poisson user sampling and every local-DP randomiser
in masking draw from OS entropy (`os.urandom`), never from a seed: a seed is in the source code,
and anyone who has the code could then replay the noise and subtract it (ε = ∞), and user
sampling would no longer be random to them (no amplification by subsampling).

One switch exists for tests only: the environment variable `TEST_ONLY_SEED_ENV` set to an
integer makes these draws reproducible. A run with it on is NOT PRIVATE, and says so
(`status()` goes into privacy.json, the model card and the run summary); no config field or
CLI flag sets it.
"""
import os
from typing import Optional

import numpy as np

TEST_ONLY_SEED_ENV = "PRIVREC_TEST_ONLY_REPRODUCIBLE_NOT_PRIVATE"
PRIVATE = "OS entropy (os.urandom): not reproducible, as DP requires"
NOT_PRIVATE = "reproducible: NOT PRIVATE (test-only seed from ${})".format(TEST_ONLY_SEED_ENV)


def test_only_seed() -> Optional[int]:
    """The test-only seed, or None (the default: OS entropy)."""
    value = os.environ.get(TEST_ONLY_SEED_ENV)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"${TEST_ONLY_SEED_ENV} must be an integer seed (tests only), got "
                         f"{value!r}") from error


def is_private() -> bool:
    return test_only_seed() is None


def status() -> str:
    """What privacy.json, the model card and the run summary say about the randomness."""
    return PRIVATE if is_private() else NOT_PRIVATE


def numpy_generator(stream: int = 0) -> np.random.Generator:
    """A NumPy generator seeded from OS entropy (numpy's default_rng() with no seed reads
    os.urandom); `stream` only separates reproducible streams under the test-only seed."""
    seed = test_only_seed()
    return np.random.default_rng() if seed is None else np.random.default_rng([seed, stream])


def tf_generator(stream: int = 0):
    """A tf.random.Generator from OS entropy (`from_non_deterministic_state`), independent of
    `tf.random.set_seed`; under the test-only seed, `from_seed`."""
    import tensorflow as tf
    seed = test_only_seed()
    if seed is None:
        return tf.random.Generator.from_non_deterministic_state()
    return tf.random.Generator.from_seed(seed * 1_000_003 + stream)


def tf_seed_pair(stream: int = 0):
    """A [2] int64 seed for TensorFlow's stateless random ops, from OS entropy (or the
    test-only seed): for stateless draws that must not be predictable."""
    seed = test_only_seed()
    if seed is None:
        return np.frombuffer(os.urandom(16), np.int64).copy()
    return np.array([seed, stream], np.int64)
