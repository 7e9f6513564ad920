"""Local randomisation of sensitive attributes as TF ops, each with its own ε (stated in the
masking report per user and per row).

  randomized_response(epsilon, domain)  k-ary randomized response: keep the true value with
      probability e^ε / (e^ε + k - 1), otherwise release one of the k - 1 others uniformly.
      Per user (`unit: user`, the default): the coin and the replacement come from a keyed
      PRF (SipHash-2-4 under the secret pseudonymisation key) of (column, pseudonym, true
      value), so every row of a user carrying the same true value carries the same release:
      one ε-randomised release per person, whatever the number of rows (a majority vote over a
      heavy user's rows recovers nothing). A user whose rows disagree (a data error) gets one
      release per distinct value: m values -> m·ε, and that the rows disagree is not hidden.
      The PRF is not a seed in the code: its key comes from os.urandom (`privrec keygen`) and
      never leaves the masking step, so to anyone without the key the releases are random; the
      same key gives the same releases in every run, so re-masking draws nothing new. Under the
      public --dev-key anyone can recompute them: no privacy (the report says so).
      Per row (`unit: row`): coins from OS entropy, ε per row (a user with n rows: n·ε).
  laplace(epsilon, lower, upper, granularity)  clip to [lower, upper], round to the grid of
      `granularity` (default 0.01: amounts in cents) and add discrete Laplace noise (difference
      of two geometric variables, tensorflow_probability's Geometric sampler) of scale
      (upper - lower) / (granularity · ε) grid steps. Empty values are missing and stay missing.
  gaussian(epsilon, delta, lower, upper, granularity)  clip, round to the grid, add discrete
      Gaussian noise (Canonne, Kamath & Steinke 2020, the rejection sampler
      tensorflow_privacy.privacy.dp_query.discrete_gaussian_utils implements) whose σ
      dp_accounting calibrates (PLD accountant) so that one release is (ε, δ)-DP for a
      sensitivity of upper - lower. The report states the σ.
  Numeric noise is per row: an order amount belongs to one interaction, and a user with n
  orders gets n·ε (n·δ) by basic composition.

Why discrete noise on a grid: a float sum of a value and float noise (inverse-CDF Laplace)
leaks the value through which floats can occur (Mironov, CCS 2012) and a truncated uniform
bounds the noise. Here the release is (integer value + integer noise) · granularity: a function
of one integer, so its low-order bits carry nothing of the true value.

Every draw comes from privrec.randomness (OS entropy, independent of tf.random.set_seed); only
its test-only switch makes draws reproducible, and says NOT PRIVATE.
"""
import functools
import math
import zlib
from typing import Any, Callable, Dict, Optional, Sequence

import dp_accounting
from dp_accounting import mechanism_calibration
from dp_accounting.pld import pld_privacy_accountant
import tensorflow as tf
import tensorflow_probability as tfp

from components.masking import pseudonymizer
from privrec import randomness

USER, ROW = "user", "row"
DEFAULT_GRANULARITY = 0.01
# SipHash output reduced to 53 bits: the coin compares it with keep_probability · 2^53.
_COIN_BITS = 53
_PRF_SEPARATOR = "\x1f"


def keep_probability(epsilon: float, domain_size: int) -> float:
    return math.exp(epsilon) / (math.exp(epsilon) + domain_size - 1)


def _domain_index(values: tf.Tensor, domain: Sequence[str]):
    domain_tensor = tf.constant(list(domain), tf.string)
    matches = tf.equal(tf.expand_dims(values, 1), tf.expand_dims(domain_tensor, 0))
    return domain_tensor, tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)


def _prf(key: pseudonymizer.PseudonymKey, purpose: str, column: str, pseudonyms: tf.Tensor,
         values: tf.Tensor, buckets: int) -> tf.Tensor:
    """Keyed SipHash-2-4 of (purpose, column, pseudonym, value) reduced to [0, buckets)."""
    message = tf.strings.join([purpose, column, pseudonyms, values], separator=_PRF_SEPARATOR)
    return tf.strings.to_hash_bucket_strong(message, buckets, key=list(key.words))


def randomized_response_per_user(values: tf.Tensor, pseudonyms: tf.Tensor, column: str,
                                 epsilon: float, domain: Sequence[str],
                                 key: pseudonymizer.PseudonymKey) -> tf.Tensor:
    """[n] strings in `domain` and the rows' [n] pseudonyms -> [n] releases, the same for
    every row of one user with the same true value (module docstring)."""
    k = len(domain)
    domain_tensor, index = _domain_index(values, domain)
    coin = _prf(key, "rr-coin", column, pseudonyms, values, 2**_COIN_BITS)
    keep = coin < int(keep_probability(epsilon, k) * 2**_COIN_BITS)
    shift = _prf(key, "rr-shift", column, pseudonyms, values, max(k - 1, 1)) + 1  # 1..k-1
    released = tf.where(keep, index, (index + tf.cast(shift, tf.int32)) % k)
    return tf.gather(domain_tensor, released)


def randomized_response(values: tf.Tensor, epsilon: float, domain: Sequence[str],
                        generator: tf.random.Generator) -> tf.Tensor:
    """[n] strings in `domain` -> [n] releases, each row randomised on its own."""
    k = len(domain)
    domain_tensor, index = _domain_index(values, domain)
    n = tf.shape(values)[0]
    keep = generator.uniform([n], dtype=tf.float64) < keep_probability(epsilon, k)
    shift = generator.uniform([n], 1, max(k, 2), dtype=tf.int32)  # 1..k-1: another value
    released = tf.where(keep, index, (index + shift) % k)
    return tf.gather(domain_tensor, released)


def _seed(generator: tf.random.Generator) -> tf.Tensor:
    """A fresh stateless seed (tensorflow_probability takes int32 pairs) from the generator."""
    return generator.uniform_full_int([2], tf.int32)


def discrete_laplace(shape, scale: float, generator: tf.random.Generator) -> tf.Tensor:
    """int64 noise with P(z) ∝ exp(-|z| / scale): X - Y for X, Y ~ Geometric(1 - e^(-1/scale))."""
    geometric = tfp.distributions.Geometric(
        probs=tf.constant(-math.expm1(-1.0 / scale), tf.float64))
    return tf.cast(geometric.sample(shape, seed=_seed(generator))
                   - geometric.sample(shape, seed=_seed(generator)), tf.int64)


def discrete_gaussian(n: tf.Tensor, sigma: float, generator: tf.random.Generator) -> tf.Tensor:
    """[n] int64 noise with P(z) ∝ exp(-z² / 2σ²): discrete Laplace proposals of scale
    t = floor(σ) + 1, each accepted with probability exp(-(|y| - σ²/t)² / 2σ²), redrawn until
    accepted (Canonne, Kamath & Steinke 2020, Algorithm 3)."""
    t = math.floor(sigma) + 1
    variance = sigma * sigma

    def draw(result, accepted):
        proposal = discrete_laplace([n], t, generator)
        distance = tf.abs(tf.cast(proposal, tf.float64)) - variance / t
        accept = generator.uniform([n], dtype=tf.float64) < tf.exp(
            -distance * distance / (2.0 * variance))
        return tf.where(accepted, result, proposal), accepted | accept

    result, _ = tf.while_loop(lambda _, accepted: ~tf.reduce_all(accepted), draw,
                              (tf.zeros([n], tf.int64), tf.zeros([n], tf.bool)))
    return result


@functools.lru_cache(maxsize=None)
def gaussian_stddev(epsilon: float, delta: float, lower: float, upper: float) -> float:
    """σ of the Gaussian mechanism that is (ε, δ)-DP for one value clipped to [lower, upper]."""
    multiplier = mechanism_calibration.calibrate_dp_mechanism(
        pld_privacy_accountant.PLDAccountant, dp_accounting.GaussianDpEvent, epsilon, delta)
    return float(multiplier) * (upper - lower)


def grid_steps(lower: float, upper: float, granularity: float) -> int:
    """The sensitivity in grid steps (the clip range, rounded up to whole steps)."""
    return max(1, math.ceil((upper - lower) / granularity - 1e-9))


def _on_grid(values: tf.Tensor, lower: float, upper: float, granularity: float):
    """[n] numeric strings -> (present, clipped value in whole grid steps, int64)."""
    present = tf.strings.length(tf.strings.strip(values)) > 0
    number = tf.strings.to_number(tf.where(present, values, "0"), tf.float64)
    clipped = tf.clip_by_value(number, lower, upper)
    return present, tf.cast(tf.round(clipped / granularity), tf.int64)


def _release(present: tf.Tensor, steps: tf.Tensor, granularity: float) -> tf.Tensor:
    value = tf.cast(tf.cast(steps, tf.float64) * granularity, tf.float32)
    return tf.where(present, value, float("nan"))


def laplace(values: tf.Tensor, epsilon: float, lower: float, upper: float, granularity: float,
            generator: tf.random.Generator) -> tf.Tensor:
    """[n] numeric strings ('' = missing) -> [n] float32 on the grid; NaN where missing."""
    present, steps = _on_grid(values, lower, upper, granularity)
    scale = grid_steps(lower, upper, granularity) / epsilon
    return _release(present, steps + discrete_laplace(tf.shape(steps), scale, generator),
                    granularity)


def gaussian(values: tf.Tensor, epsilon: float, delta: float, lower: float, upper: float,
             granularity: float, generator: tf.random.Generator) -> tf.Tensor:
    """[n] numeric strings ('' = missing) -> [n] float32 on the grid; NaN where missing."""
    present, steps = _on_grid(values, lower, upper, granularity)
    sigma = gaussian_stddev(epsilon, delta, 0.0, grid_steps(lower, upper, granularity))
    return _release(present, steps + discrete_gaussian(tf.shape(steps)[0], sigma, generator),
                    granularity)


def unit(params: Dict[str, Any]) -> str:
    """Per whom one release is randomised: 'user' or 'row' (policy.py sets the default)."""
    return params.get("unit", USER if params["method"] == "randomized_response" else ROW)


def randomizer(params: Dict[str, Any], column: str,
               key: Optional[pseudonymizer.PseudonymKey] = None
               ) -> Callable[[tf.Tensor, Optional[tf.Tensor]], tf.Tensor]:
    """(values, pseudonyms) -> releases, for one column's `randomize` settings; pseudonyms
    (the rows' user pseudonyms) are used by per-user methods only. Call it outside a
    tf.function: it creates the column's OS-entropy generator."""
    epsilon = float(params["epsilon"])
    method = params["method"]
    if method == "randomized_response" and unit(params) == USER:
        if key is None:
            raise ValueError(f"column {column}: per-user randomized response needs the key")
        domain = [str(d) for d in params["domain"]]
        return lambda v, pseudonyms: randomized_response_per_user(v, pseudonyms, column,
                                                                  epsilon, domain, key)
    generator = randomness.tf_generator(stream=zlib.crc32(column.encode()))
    if method == "randomized_response":
        domain = [str(d) for d in params["domain"]]
        return lambda v, _=None: randomized_response(v, epsilon, domain, generator)
    lower, upper = float(params["lower"]), float(params["upper"])
    granularity = float(params.get("granularity", DEFAULT_GRANULARITY))
    if method == "laplace":
        return lambda v, _=None: laplace(v, epsilon, lower, upper, granularity, generator)
    if method == "gaussian":
        delta = float(params["delta"])
        return lambda v, _=None: gaussian(v, epsilon, delta, lower, upper, granularity,
                                          generator)
    raise ValueError(f"unknown randomize method {method!r}")
