"""Gathers that vectorize inside tf.vectorized_map (the per-user gradients of user-level DP-SGD).

A gather on a variable itself (ResourceGather) has no pfor converter: tf.vectorized_map runs it
as a while_loop over users, one user at a time. The variable's value is the same for every user
(loop-invariant), and a gather from it (GatherV2) vectorizes into one batched gather. Gradients
are unchanged: the tape records the variable's read, and the gather's gradient flows to it.
"""
import tensorflow as tf


def gather_value(variable, indices) -> tf.Tensor:
    """tf.gather(variable, indices), from the variable's value."""
    return tf.gather(tf.convert_to_tensor(variable), indices)


@tf.keras.utils.register_keras_serializable(package="privrec")
class Embedding(tf.keras.layers.Embedding):
    """tf.keras Embedding (same weight, same output) whose lookup is `gather_value`."""

    def call(self, inputs):
        if inputs.dtype not in (tf.int32, tf.int64):
            inputs = tf.cast(inputs, tf.int32)
        return tf.cast(gather_value(self.embeddings, inputs), self.compute_dtype)
