"""The Gaussian noise every DP release of privrec adds, drawn from OS entropy."""
import functools

import dp_accounting
import tensorflow as tf
from tensorflow_privacy.privacy.dp_query import gaussian_query

from privrec import randomness


class EntropyGaussianSumQuery(gaussian_query.GaussianSumQuery):
    """TF-Privacy's GaussianSumQuery with its noise drawn from `generator`, a
    tf.random.Generator from OS entropy (privrec.randomness). The parent draws through
    tf.random_normal_initializer, which follows tf.random.set_seed: one seeded line anywhere in
    the process and anyone with the code could replay the noise and subtract it."""

    def __init__(self, l2_norm_clip: float, stddev: float, generator: tf.random.Generator):
        super().__init__(l2_norm_clip, stddev)
        self._generator = generator

    def get_noised_result(self, sample_state, global_state):
        def add_noise(v):
            noise = self._generator.normal(tf.shape(v), stddev=global_state.stddev)
            return v + tf.cast(noise, v.dtype)

        result = tf.nest.map_structure(add_noise, sample_state)
        event = dp_accounting.GaussianDpEvent(global_state.stddev / global_state.l2_norm_clip)
        return result, global_state, event


@functools.lru_cache(maxsize=None)
def release_noise_source() -> tf.random.Generator:
    """One OS-entropy generator per process for the releases made outside training steps
    (the popularity prior, the user count)."""
    return randomness.tf_generator(stream=2)
