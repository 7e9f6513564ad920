"""Adam that ends training on the weights' moving average (TrainerConfig.ema_momentum).

Each DP-SGD step's noise moves the weights at random; the exponential moving average of the
weights over the last ~1 / (1 - momentum) steps cancels part of it. It reads the noised
iterates only, so it is post-processing: no ε. The Keras optimizer keeps the average
(`use_ema`) and `fit` writes it into the weights at its end. Keras starts the average at the
initial weights with a fixed momentum, so a short run would end mostly on them (0.99^40 = 67 %
after 40 steps); here the momentum of update n follows tf.train.ExponentialMovingAverage's
num_updates rule, min(momentum, (1 + n) / (10 + n)), and early steps count in full.
"""
import tensorflow as tf


def momentum_at(configured: float, updates_before: tf.Tensor) -> tf.Tensor:
    """The average's momentum for an update with `updates_before` updates made before it."""
    n = tf.cast(updates_before, tf.float32)
    return tf.minimum(tf.cast(configured, tf.float32), (1.0 + n) / (10.0 + n))


class WeightAveragingAdam(tf.keras.optimizers.Adam):
    """tf.keras Adam with use_ema, whose average's momentum ramps up as `momentum_at` says."""

    def __init__(self, learning_rate: float, ema_momentum: float):
        super().__init__(learning_rate=learning_rate, use_ema=True, ema_momentum=ema_momentum)

    def _update_model_variables_moving_average(self, var_list):
        # Keras calls this in apply_gradients before counting the step in `iterations`.
        momentum = momentum_at(self.ema_momentum, self.iterations)

        def update_average(average, var):
            average.assign(momentum * average + (1.0 - momentum) * var)

        for var in var_list:
            average = self._model_variables_moving_average[self._index_dict[self._var_key(var)]]
            self._distribution_strategy.extended.update(average, update_average, args=(var,),
                                                        group=False)

