"""Local randomisation of sensitive attributes as TF ops, each with its own ε (stated per column
in the masking report). Every row is randomised independently, so each released value is
ε-differentially private with respect to that row's true value (local DP).

  randomized_response(epsilon, domain)  k-ary randomized response: keep the true value with
      probability e^ε / (e^ε + k - 1), otherwise release one of the k - 1 others uniformly.
  laplace(epsilon, lower, upper)        clip to [lower, upper], add Laplace noise of scale
      (upper - lower) / ε. Empty values are missing and stay missing (presence is not hidden).
  gaussian(epsilon, delta, lower, upper)  clip, add Gaussian noise whose standard deviation
      dp_accounting calibrates (PLD accountant, tight) so that one release is (ε, δ)-DP for a
      sensitivity of upper - lower. The report states the σ it used.
"""
import functools
import math
from typing import Any, Dict, Sequence

import dp_accounting
from dp_accounting import mechanism_calibration
from dp_accounting.pld import pld_privacy_accountant
import tensorflow as tf


def keep_probability(epsilon: float, domain_size: int) -> float:
    return math.exp(epsilon) / (math.exp(epsilon) + domain_size - 1)


def randomized_response(values: tf.Tensor, epsilon: float, domain: Sequence[str]) -> tf.Tensor:
    """[n] strings, each in `domain` (validated at ingestion) -> [n] randomised strings."""
    k = len(domain)
    domain_tensor = tf.constant(list(domain), tf.string)
    matches = tf.equal(tf.expand_dims(values, 1), tf.expand_dims(domain_tensor, 0))
    index = tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)
    n = tf.shape(values)[0]
    keep = tf.random.uniform([n]) < keep_probability(epsilon, k)
    shift = tf.random.uniform([n], 1, max(k, 2), dtype=tf.int32)  # 1..k-1: another value
    released = tf.where(keep, index, (index + shift) % k)
    return tf.gather(domain_tensor, released)


def laplace(values: tf.Tensor, epsilon: float, lower: float, upper: float) -> tf.Tensor:
    """[n] numeric strings ('' = missing) -> [n] float32 with noise; NaN where missing."""
    present, clipped = _clipped_numbers(values, lower, upper)
    u = tf.random.uniform(tf.shape(clipped), -0.4999999, 0.4999999)  # log1p(-1) would be -inf
    scale = (upper - lower) / epsilon
    noise = -scale * tf.sign(u) * tf.math.log1p(-2.0 * tf.abs(u))
    return tf.where(present, clipped + noise, float("nan"))


@functools.lru_cache(maxsize=None)
def gaussian_stddev(epsilon: float, delta: float, lower: float, upper: float) -> float:
    """σ of the Gaussian mechanism that is (ε, δ)-DP for one value clipped to [lower, upper]."""
    multiplier = mechanism_calibration.calibrate_dp_mechanism(
        pld_privacy_accountant.PLDAccountant, dp_accounting.GaussianDpEvent, epsilon, delta)
    return float(multiplier) * (upper - lower)


def _clipped_numbers(values: tf.Tensor, lower: float, upper: float):
    present = tf.strings.length(tf.strings.strip(values)) > 0
    number = tf.strings.to_number(tf.where(present, values, "0"), tf.float32)
    return present, tf.clip_by_value(number, lower, upper)


def gaussian(values: tf.Tensor, epsilon: float, delta: float, lower: float,
             upper: float) -> tf.Tensor:
    """[n] numeric strings ('' = missing) -> [n] float32 with noise; NaN where missing."""
    present, clipped = _clipped_numbers(values, lower, upper)
    noise = tf.random.normal(tf.shape(clipped), stddev=gaussian_stddev(epsilon, delta, lower,
                                                                       upper))
    return tf.where(present, clipped + noise, float("nan"))


def randomizer(params: Dict[str, Any]):
    """The [n] string -> [n] tensor function for one column's `randomize` settings."""
    epsilon = float(params["epsilon"])
    if params["method"] == "randomized_response":
        return lambda v: randomized_response(v, epsilon, [str(d) for d in params["domain"]])
    if params["method"] == "laplace":
        return lambda v: laplace(v, epsilon, float(params["lower"]), float(params["upper"]))
    if params["method"] == "gaussian":
        return lambda v: gaussian(v, epsilon, float(params["delta"]), float(params["lower"]),
                                  float(params["upper"]))
    raise ValueError(f"unknown randomize method {params['method']!r}")
