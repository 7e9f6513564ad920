"""User-level DP-SGD as a wrapper: `DPTrainer` trains any Keras model that exposes a narrow
interface, with the mechanism (`UserLevelDP`) it is given at construction.

The wrapped model knows nothing of DP. It exposes:
- `trainable_variables`;
- `sample_negatives()`: public inputs shared by a step's examples, drawn independently of any
  private data (e.g. uniform catalog negatives);
- `prepare_batch(users)`: work on a [user slots, k] batch that involves no trainable variable,
  done once for the batch, outside the per-user gradients (e.g. a frozen encoder);
- `per_example_loss(inputs, shared)`: one loss per example, depending on that example alone;
- `layer_cotangents(users, shared, weights)`, optionally: the trainable layers' inputs and
  cotangents (privrec/privacy/ghost_clipping.py's `DenseUse`, `EmbeddingUse`) and [users]
  weighted losses, or None where it cannot; ghost clipping then needs no per-user gradient.

Each step gets Poisson-sampled users with at most k examples each (user_sampling.py), clips
each user's gradient of their summed loss and adds noise once (mechanism.py); the optimizer then
applies an already private gradient (post-processing). Without `layer_cotangents` the per-user
gradients come from tf.vectorized_map over users (cost grows with users × k, not users²).
"""
from typing import Dict

import tensorflow as tf

from privrec.privacy import ghost_clipping
from privrec.privacy.mechanism import UserLevelDP
from privrec.privacy.user_sampling import EXAMPLE_MASK

# The steps' Python control flow is on Python values only, so they need no AutoGraph. Left on,
# AutoGraph transpiles tf_keras itself (its "keras" no-convert rule does not match tf_keras).
_no_autograph = tf.autograph.experimental.do_not_convert


def mean_over_replicas(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """Σ total / Σ count over the strategy's replicas (on one device: total / count)."""
    total, count = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, [total, count])
    return total / tf.maximum(count, 1.0)


class DPTrainer(tf.keras.Model):
    """`model` trained with user-level DP-SGD under `mechanism`: compile() and fit() this
    wrapper; save and serve `model`. The mechanism is fixed at construction."""

    def __init__(self, model: tf.keras.Model, mechanism: UserLevelDP, **kwargs):
        # float32 whatever the global policy: the loss and DP-SGD do not compute in mixed
        # precision, and compile() does not wrap the optimizer in a dynamic loss scale (which
        # would skip steps depending on the batch's gradients, outside the DP mechanism).
        super().__init__(**{**kwargs, "dtype": "float32"})
        if not isinstance(mechanism, UserLevelDP):
            raise TypeError(f"DPTrainer needs a UserLevelDP mechanism, got {mechanism!r}")
        self.model = model
        self._mechanism = mechanism
        # train_step and test_step all-reduce their loss: each replica returns the global one.
        self.distribute_reduction_method = "first"

    @property
    def mechanism(self) -> UserLevelDP:
        return self._mechanism

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def user_gradients(self, users: Dict[str, tf.Tensor], shared: tf.Tensor):
        """[users, ...] gradient of each user's summed (masked) loss, per trainable variable,
        and [users] those losses."""
        variables = self.model.trainable_variables
        users = self.model.prepare_batch(users)

        def one_user(user):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self.model.per_example_loss(user, shared)
                                     * user[EXAMPLE_MASK])
            gradients = tape.gradient(loss, variables,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return [tf.convert_to_tensor(g) for g in gradients], loss

        return tf.vectorized_map(one_user, users)

    def _ghost_clipped_sum(self, users, shared):
        """(Σ_users clipped gradient per variable, [users] losses), or None when the model
        does not give its layers' cotangents for this batch."""
        cotangents = getattr(self.model, "layer_cotangents", None)
        found = cotangents(users, shared, users[EXAMPLE_MASK]) if cotangents else None
        if found is None:
            return None
        uses, losses = found
        mask = users[EXAMPLE_MASK]
        sums = ghost_clipping.clipped_sum(uses, tf.shape(mask)[0], tf.shape(mask)[1],
                                          self._mechanism.clip_weights)
        variables = self.model.trainable_variables
        missing = [v.name for v in variables if v.ref() not in sums]
        if missing or len(sums) != len(variables):
            raise ValueError("the model's layer cotangents do not cover exactly its trainable "
                             f"variables (missing: {missing}): no clipping bound would hold")
        return [sums[v.ref()] for v in variables], losses

    def private_gradients(self, users: Dict[str, tf.Tensor], shared: tf.Tensor):
        """The privatised mean gradient per trainable variable (under MirroredStrategy, of every
        replica's users, noised once) and the mean loss per real example over all replicas."""
        users = self.model.prepare_batch(users)
        ghost = self._ghost_clipped_sum(users, shared)
        if ghost is not None:
            summed, losses = ghost
        else:
            gradients, losses = self.user_gradients(users, shared)
            summed = self._mechanism.clip_and_sum(gradients)
        loss = mean_over_replicas(tf.reduce_sum(losses), tf.reduce_sum(users[EXAMPLE_MASK]))
        return self._mechanism.noised_mean(summed), loss

    @_no_autograph
    def train_step(self, users):
        """One user-level DP-SGD step on a batch of [user slots, k] examples (a replica's
        slice of the slots under MirroredStrategy). Each replica draws its own shared inputs:
        they are public, and each user's loss still depends on their data alone."""
        gradients, loss = self.private_gradients(users, self.model.sample_negatives())
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables),
                                       skip_gradients_aggregation=True)
        return {"loss": loss}

    def test_step(self, inputs):
        return self.model.test_step(inputs)  # the model's own evaluation loss

    def noise_norm_over_clip(self) -> float:
        """The mechanism's noise norm over the clip norm for this model's trainable values."""
        return self._mechanism.noise_norm_over_clip(self.model.trainable_variables)
