"""Each user's clipped gradient summed over users, without a gradient per user ("ghost
clipping", the idea behind TF-Privacy's fast gradient clipping, here at the user level).

The model being trained says how each trainable layer was used in a [users, k] batch: a Dense
layer's inputs and the cotangents of its pre-activations (`DenseUse`), an embedding's ids and
the cotangents of its looked-up rows (`EmbeddingUse`). Rows may be shared by every user (e.g.
one set of catalog negatives): their inputs once, their cotangents per user. From these alone:
- a large kernel's per-user gradient norm is ‖Σ_rows xᵀδ‖² = Σ (X Xᵀ) ∘ (Δ Δᵀ) over the
  user's rows (Gram matrices, which the model may hand over precomputed);
- a small kernel's norm comes from each user's kernel gradient itself (cheaper there);
- an embedding's per-user gradient is sparse: its rows are the (user, id) segment sums.
Each user's weight (`clip_weights` of the norms: UserLevelDP.clip_weights) then scales their
rows' cotangents, and one pass of matmuls and segment sums gives the clipped sum. It equals
clipping each user's own gradient (tests/trainer/test_ghost_clipping.py).
"""
import dataclasses
from typing import Callable, Dict, Optional, Sequence, Tuple

import tensorflow as tf


@dataclasses.dataclass
class DenseUse:
    """A Dense layer (kernel, bias) in a [users, k] batch: inputs `x` [users * k, in] and
    pre-activation cotangents `delta` [users * k, out]; rows shared by all users, if any:
    `x_shared` [m, in] and each user's cotangent on them `delta_shared` [users, m, out].
    `grams`, for a large kernel: (x against x within each user's rows [users, k, k], x against
    the shared rows [users, k, m] or None, the shared rows' own [m, m] or None); None for a
    small kernel (its per-user gradient is then formed)."""
    kernel: tf.Variable
    bias: tf.Variable
    x: tf.Tensor
    delta: tf.Tensor
    x_shared: Optional[tf.Tensor] = None
    delta_shared: Optional[tf.Tensor] = None
    grams: Optional[Tuple] = None


@dataclasses.dataclass
class EmbeddingUse:
    """An embedding table looked up at `ids` [users, n], with cotangents `delta` [users, n, dim]
    on the looked-up rows (a user may look an id up many times)."""
    table: tf.Variable
    ids: tf.Tensor
    delta: tf.Tensor


def _gram_norms(grams, delta, delta_shared=None) -> tf.Tensor:
    """[users] ‖Σ_j x_jᵀ δ_j + Σ_m x_shared_mᵀ δ_shared_{u,m}‖² of a Dense kernel, from the
    inputs' Grams and the cotangents (‖AᵀB‖² = Σ (AAᵀ) ∘ (BBᵀ)). delta [users, k, out]."""
    rows, cross, shared = grams
    norms = tf.reduce_sum(rows * tf.matmul(delta, delta, transpose_b=True), axis=[1, 2])
    if delta_shared is None:
        return norms
    norms += tf.reduce_sum(delta_shared * tf.einsum("mn,uno->umo", shared, delta_shared),
                           axis=[1, 2])
    cross_delta = tf.matmul(delta, delta_shared, transpose_b=True)              # [u, k, m]
    return norms + 2.0 * tf.reduce_sum(cross * cross_delta, axis=[1, 2])


def _materialized_norms(x, delta, x_shared=None, delta_shared=None) -> tf.Tensor:
    """The same norms as `_gram_norms`, from each user's kernel gradient itself."""
    gradient = tf.matmul(x, delta, transpose_a=True)                              # [u, in, out]
    if x_shared is not None:
        gradient += tf.einsum("mi,umo->uio", x_shared, delta_shared)
    return tf.reduce_sum(tf.square(gradient), axis=[1, 2])


def _bias_norms(delta, delta_shared=None) -> tf.Tensor:
    total = tf.reduce_sum(delta, axis=1)
    if delta_shared is not None:
        total += tf.reduce_sum(delta_shared, axis=1)
    return tf.reduce_sum(tf.square(total), axis=1)


def _embedding_norms(ids, vectors, num_rows: int) -> tf.Tensor:
    """[users] ‖per-user embedding gradient‖²: ids [users, n] with their cotangent vectors
    [users, n, dim], summed per (user, id) first."""
    users = tf.shape(ids)[0]
    keys = tf.reshape(tf.range(users, dtype=tf.int64)[:, tf.newaxis] * num_rows
                      + tf.cast(ids, tf.int64), [-1])
    unique, segment = tf.unique(keys)
    rows = tf.math.unsorted_segment_sum(tf.reshape(vectors, [-1, tf.shape(vectors)[-1]]),
                                        segment, tf.size(unique))
    return tf.math.unsorted_segment_sum(tf.reduce_sum(tf.square(rows), axis=1),
                                        unique // num_rows, users)


def squared_norms(uses: Sequence, users, k) -> tf.Tensor:
    """[users] each user's squared gradient norm over every variable the uses cover."""
    def per_user(t):  # [users * k, ...] -> [users, k, ...]
        return tf.reshape(t, tf.concat([[users, k], tf.shape(t)[1:]], 0))

    total = tf.zeros([users], tf.float32)
    for use in uses:
        if isinstance(use, EmbeddingUse):
            total += _embedding_norms(use.ids, use.delta, use.table.shape[0])
            continue
        delta = per_user(use.delta)
        if use.grams is not None:
            total += _gram_norms(use.grams, delta, use.delta_shared)
        else:
            total += _materialized_norms(per_user(use.x), delta, use.x_shared,
                                         use.delta_shared)
        total += _bias_norms(delta, use.delta_shared)
    return total


def clipped_sum(uses: Sequence, users, k, clip_weights: Callable[[tf.Tensor], tf.Tensor]
                ) -> Dict:
    """{variable.ref(): Σ_users clip_weights(norms)_u · ∇ user u's loss} over the variables the
    uses cover."""
    # A sum of Gram terms is ‖·‖² exactly but can round below 0 when the terms cancel; the
    # square root of that would be NaN, and one NaN weight would poison the whole step.
    weight = clip_weights(tf.sqrt(tf.maximum(squared_norms(uses, users, k), 0.0)))  # [u]
    row_weight = tf.repeat(weight, k)[:, tf.newaxis]                               # [u * k, 1]
    gradients = {}
    for use in uses:
        if isinstance(use, EmbeddingUse):
            gradients[use.table.ref()] = tf.math.unsorted_segment_sum(
                tf.reshape(use.delta * weight[:, tf.newaxis, tf.newaxis],
                           [-1, use.delta.shape[-1]]),
                tf.reshape(use.ids, [-1]), use.table.shape[0])
            continue
        delta = use.delta * row_weight
        kernel, bias = tf.matmul(use.x, delta, transpose_a=True), tf.reduce_sum(delta, 0)
        if use.x_shared is not None:
            shared = tf.tensordot(weight, use.delta_shared, axes=1)                # [m, out]
            kernel += tf.matmul(use.x_shared, shared, transpose_a=True)
            bias += tf.reduce_sum(shared, 0)
        gradients[use.kernel.ref()], gradients[use.bias.ref()] = kernel, bias
    return gradients
