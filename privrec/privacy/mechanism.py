"""One user-level DP-SGD step's mechanism: clip each user's gradient, sum, add Gaussian noise."""
import dataclasses
import math
from typing import Dict, List, Sequence

import tensorflow as tf

from privrec import randomness
from privrec.privacy.noise import EntropyGaussianSumQuery
from privrec.privacy.weight_averaging import WeightAveragingAdam


@dataclasses.dataclass(frozen=True)
class UserLevelDP:
    """One DP-SGD step's mechanism: clip each user's summed gradient to `l2_norm_clip`, add
    Gaussian noise of stddev noise_multiplier * l2_norm_clip to the sum (TF-Privacy's
    GaussianSumQuery), divide by the *expected* number of users per step (with Poisson
    sampling the actual count is itself private)."""
    l2_norm_clip: float
    noise_multiplier: float
    expected_users_per_step: float
    # The noise's source: OS entropy, made with the mechanism (under the training strategy's
    # scope when there is one, so each replica can draw from it).
    generator: tf.random.Generator = dataclasses.field(
        default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.generator is None:
            object.__setattr__(self, "generator", randomness.tf_generator(stream=1))

    def clip_weights(self, norms: tf.Tensor) -> tf.Tensor:
        """[users] per-user gradient norms -> each user's clipping factor 1 / max(1, norm / C)
        (TF-Privacy's vectorized optimizers' clipping: the global norm over all variables)."""
        return 1.0 / tf.maximum(norms / self.l2_norm_clip, 1.0)

    def clip_and_sum(self, per_user_gradients: List[tf.Tensor]) -> List[tf.Tensor]:
        """[users, ...] gradients per variable -> Σ_users clipped gradient per variable,
        written over the user axis at once (the query's own `preprocess_record`,
        tf.clip_by_global_norm, has no vectorized form and would loop). Float32 whatever the
        layers' mixed-precision policy."""
        squared = [tf.reduce_sum(tf.square(tf.reshape(g, [tf.shape(g)[0], -1])), axis=1)
                   for g in per_user_gradients]
        weights = self.clip_weights(tf.sqrt(tf.add_n(squared)))
        return [tf.tensordot(weights, g, axes=1) for g in per_user_gradients]

    def noised_mean(self, summed: List[tf.Tensor]) -> List[tf.Tensor]:
        """Σ_users clipped gradient per variable -> the privatised mean gradient: Gaussian
        noise of stddev σC (TF-Privacy's GaussianSumQuery), over the expected users per step.

        Under a multi-replica strategy (MirroredStrategy: each replica holds a slice of the
        users) each replica clips its own users, the first replica alone adds the noise (once,
        stddev σC, as on one device; noise σC/√replicas on each would need independent random
        streams, and the replicas' are identical: noise on both gave 2σC in
        tests/trainer/test_devices.py)
        and the sums are all-reduced, so every replica returns the same mean of
        all users' clipped gradients plus σC noise over the expected users. Apply it with
        `skip_gradients_aggregation=True`: it is already the global gradient. On one device the
        all-reduce is the identity."""
        query = EntropyGaussianSumQuery(
            self.l2_norm_clip, self.noise_multiplier * self.l2_norm_clip, self.generator)
        replica = tf.distribute.get_replica_context()
        noised = tf.cond(
            tf.equal(replica.replica_id_in_sync_group, 0),
            lambda: query.get_noised_result(summed, query.initial_global_state())[0],
            lambda: summed)
        noised = replica.all_reduce(tf.distribute.ReduceOp.SUM, noised)
        return [g / self.expected_users_per_step for g in noised]

    def noisy_mean(self, per_user_gradients: List[tf.Tensor]) -> List[tf.Tensor]:
        """[users, ...] gradients per variable -> the privatised mean gradient per variable."""
        return self.noised_mean(self.clip_and_sum(per_user_gradients))

    def noise_norm_over_clip(self, variables: Sequence[tf.Variable]) -> float:
        """`noise_norm_over_clip` of a step that trains `variables`."""
        return noise_norm_over_clip(self.noise_multiplier, self.expected_users_per_step,
                                    sum(int(tf.size(v)) for v in variables))


def noise_norm_over_clip(noise_multiplier: float, expected_users_per_step: float,
                         num_parameters: int) -> float:
    """The norm of the noise in one step's privatised mean gradient (UserLevelDP.noised_mean),
    in units of the clip norm: σ·√D / expected users per step (a D-dimensional Gaussian of
    stddev s has norm ≈ s·√D). The largest signal a step can carry, every user's clipped
    gradient pointing the same way, has norm 1 in these units; far above 1, each step's
    direction is mostly noise, and only many steps average it out."""
    return noise_multiplier * math.sqrt(num_parameters) / expected_users_per_step


def make_optimizer(config: Dict) -> tf.keras.optimizers.Optimizer:
    """Adam on already privatised gradients (UserLevelDP.noised_mean); post-processing of a DP
    gradient stays DP, so the optimizer itself needs no privacy. With config["ema_momentum"]
    training ends on the weights' moving average (privrec/privacy/weight_averaging.py)."""
    momentum = config.get("ema_momentum")
    if momentum is None:
        return tf.keras.optimizers.Adam(learning_rate=config["learning_rate"])
    if not 0 < momentum < 1:
        raise ValueError(f"ema_momentum must be in (0, 1) or None, got {momentum}")
    return WeightAveragingAdam(config["learning_rate"], momentum)
