"""Each user's clipped gradient summed over users, without a gradient per user ("ghost
clipping", the idea behind TF-Privacy's fast gradient clipping, here at the user level).

TF-Privacy's fast clipping registry works on Keras functional models whose layers see one row
per example. In this model the shared catalog negatives (trainer/model.py) are one set of rows
whose cotangents differ per user, which that registry cannot express. So this module writes the
two towers' forward pass with its layers' own variables and gets, from one backward pass:

- each query row's cotangents (the query MLP's pre-activations, the history mean vector) and
  each label row's (the candidate MLP's pre-activations, its item and category embeddings);
- each *user's* cotangent on the negatives' candidate outputs (a zero offset per user added to
  the shared outputs), taken back through the candidate MLP by hand, per user.

The backward pass never goes into the frozen inputs (query and title vectors): their part of
each first layer is computed outside the tape. From these, each user's gradient norm needs no
per-user gradient:
- a first layer's per-user kernel gradient is Σ_rows xᵀδ over 400+ inputs, and
  ‖Σ xᵀδ‖² = Σ (X Xᵀ) ∘ (Δ Δᵀ) over the user's rows (Gram matrices; the negatives' input Gram
  is computed once for all users, their products with the label rows' titles in the same
  matmul as the title part of the forward pass);
- the output layers' kernels are small (64 × d): there the per-user gradient itself is cheaper;
- an embedding's per-user gradient is sparse: its rows are the (user, id) segment sums.
Each user's weight min(1, C / norm) then scales their rows' cotangents, and one pass of
matmuls and segment sums gives the clipped sum. It equals clipping the per-user gradients of
model.user_gradients (tests/test_ghost_clipping.py), at a fraction of the cost
(bench/retrieval_quality.py, DP/non-DP step).

It applies when the trainable variables are the towers' own (MiniLM frozen, float32 layers);
otherwise the model falls back to per-user gradients (tf.vectorized_map).
"""
from typing import Callable, Dict, List, Tuple

import tensorflow as tf

from privrec.privacy import user_sampling
from trainer import features
from trainer.query_vectors import QUERY_VECTOR


def applies(model) -> bool:
    """Whether the trainable variables are exactly the towers' (embeddings and the two MLPs:
    Dense with bias and ReLU, then Dense with bias and no activation, as the hand-written pass
    computes them), all float32: then `clipped_user_sum` covers every one of them."""
    layers = [model.item_embedding, model.category_embedding,
              *model.query_mlp.layers, *model.candidate_mlp.layers]
    own = {v.ref() for layer in layers for v in layer.trainable_variables}
    mlps = (model.query_mlp.layers, model.candidate_mlp.layers)
    return (own == {v.ref() for v in model.trainable_variables}
            and all(len(mlp) == 2 for mlp in mlps)
            and all([tf.keras.activations.serialize(dense.activation) for dense in mlp]
                    == ["relu", "linear"] and all(dense.use_bias for dense in mlp)
                    for mlp in mlps)
            and all(layer.compute_dtype == "float32" for layer in layers))


def _gram_norms(grams, delta, delta_shared=None) -> tf.Tensor:
    """[users] ‖Σ_j x_jᵀ δ_j + Σ_m x_shared_mᵀ δ_shared_{u,m}‖² of a Dense kernel, from the
    inputs' Grams and the cotangents (‖AᵀB‖² = Σ (AAᵀ) ∘ (BBᵀ)). grams: x against x within
    each user's rows [users, k, k], and if there are shared rows, x against them [users, k, m]
    and them against themselves [m, m]. delta [users, k, out]; delta_shared [users, m, out]."""
    rows, cross, shared = grams
    norms = tf.reduce_sum(rows * tf.matmul(delta, delta, transpose_b=True), axis=[1, 2])
    if delta_shared is None:
        return norms
    norms += tf.reduce_sum(delta_shared * tf.einsum("mn,uno->umo", shared, delta_shared),
                           axis=[1, 2])
    cross_delta = tf.matmul(delta, delta_shared, transpose_b=True)              # [u, k, m]
    return norms + 2.0 * tf.reduce_sum(cross * cross_delta, axis=[1, 2])


def _materialized_norms(x, delta, x_shared=None, delta_shared=None) -> tf.Tensor:
    """The same norms as `_gram_norms`, from each user's kernel gradient itself: fewer
    operations where the kernel is small (in * out under about (k + m) * (in + out))."""
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
    [users, n, dim], summed per (user, id) first (a user may touch an id many times)."""
    users = tf.shape(ids)[0]
    keys = tf.reshape(tf.range(users, dtype=tf.int64)[:, tf.newaxis] * num_rows + ids, [-1])
    unique, segment = tf.unique(keys)
    rows = tf.math.unsorted_segment_sum(tf.reshape(vectors, [-1, tf.shape(vectors)[-1]]),
                                        segment, tf.size(unique))
    return tf.math.unsorted_segment_sum(tf.reduce_sum(tf.square(rows), axis=1),
                                        unique // num_rows, users)


def clipped_user_sum(model, users: Dict[str, tf.Tensor], negatives: tf.Tensor,
                     clip_weights: Callable[[tf.Tensor], tf.Tensor]
                     ) -> Tuple[List[tf.Tensor], tf.Tensor]:
    """(Σ_users clip_weights(norms)_u · ∇ user u's summed loss, per trainable variable, and
    [users] those losses) for a [users, k] batch with precomputed query vectors.
    `clip_weights` maps per-user gradient norms to their weights (UserLevelDP.clip_weights)."""
    mask = users[user_sampling.EXAMPLE_MASK]
    slots, k = tf.shape(mask)[0], tf.shape(mask)[1]
    item_table = tf.convert_to_tensor(model.item_embedding.embeddings)
    category_table = tf.convert_to_tensor(model.category_embedding.embeddings)
    item_category = tf.convert_to_tensor(model.item_category)
    title_vectors = tf.convert_to_tensor(model.item_title_vectors)
    query_hidden, query_out = model.query_mlp.layers
    candidate_hidden, candidate_out = model.candidate_mlp.layers
    item_dim = item_table.shape[-1]
    embedding_dim = item_dim + category_table.shape[-1]

    def dense(x, layer):  # the layer's matmul on [rows, in] (its activation comes after)
        return tf.matmul(x, layer.kernel) + layer.bias

    def per_user(t):  # [users * k, ...] -> [users, k, ...]
        return tf.reshape(t, tf.concat([[slots, k], tf.shape(t)[1:]], 0))

    def flat(t):  # [users, k, ...] -> [users * k, ...]
        return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))

    history = users[features.HISTORY]                                            # [u, k, h]
    history_weight = tf.cast(tf.not_equal(history, 0), tf.float32)
    history_weight /= tf.maximum(tf.reduce_sum(history_weight, -1, keepdims=True), 1.0)
    labels = tf.reshape(users[features.LABEL], [-1])                             # [u * k]
    label_categories = tf.gather(item_category, labels)
    negative_categories = tf.gather(item_category, negatives)
    text = flat(tf.cast(users[QUERY_VECTOR], tf.float32))

    # The negatives' candidate MLP, shared by all users (no per-row gradient: see below).
    negative_input = tf.concat([tf.gather(item_table, negatives),
                                tf.gather(category_table, negative_categories),
                                tf.gather(title_vectors, negatives)], -1)        # [m, in]
    negative_pre = dense(negative_input, candidate_hidden)
    negative_hidden = tf.nn.relu(negative_pre)
    negative_out = dense(negative_hidden, candidate_out)                          # [m, d]
    # l2_normalize's own form, and 1 / the norm it divided by
    negative_inverse_norm = tf.math.rsqrt(tf.maximum(
        tf.reduce_sum(tf.square(negative_out), -1, keepdims=True), 1e-12))
    negative = negative_out * negative_inverse_norm

    # The frozen inputs' part of each first layer, outside the tape (their cotangents are never
    # needed), and in the same matmul the label titles' products with the negatives' (the
    # candidate kernel's Gram cross term).
    text_dim = query_hidden.kernel.shape[0] - item_dim
    text_pre = tf.matmul(text, query_hidden.kernel[:text_dim]) + query_hidden.bias
    label_title = tf.gather(title_vectors, labels)
    title_products = tf.matmul(label_title, tf.concat(
        [candidate_hidden.kernel[embedding_dim:],
         tf.transpose(negative_input[:, embedding_dim:])], 1))
    hidden_units = candidate_hidden.kernel.shape[1]
    title_pre = title_products[:, :hidden_units] + candidate_hidden.bias
    title_cross = title_products[:, hidden_units:]                                 # [u * k, m]

    with tf.GradientTape(watch_accessed_variables=False, persistent=False) as tape:
        history_mean = flat(tf.einsum("ukh,ukhd->ukd", history_weight,
                                      tf.gather(item_table, history)))
        label_item = tf.gather(item_table, labels)
        label_category = tf.gather(category_table, label_categories)
        tape.watch([history_mean, label_item, label_category])
        query_pre = text_pre + tf.matmul(history_mean, query_hidden.kernel[text_dim:])
        query_act = tf.nn.relu(query_pre)
        query_pre_out = dense(query_act, query_out)
        label_embedding = tf.concat([label_item, label_category], -1)
        label_pre = title_pre + tf.matmul(label_embedding,
                                          candidate_hidden.kernel[:embedding_dim])
        label_act = tf.nn.relu(label_pre)
        label_pre_out = dense(label_act, candidate_out)
        tape.watch([query_pre, query_pre_out, label_pre, label_pre_out])
        query = tf.math.l2_normalize(query_pre_out, -1)
        negative_scores = tf.matmul(query, negative, transpose_b=True)           # [u * k, m]
        tape.watch(negative_scores)
        losses = model.softmax_loss(
            tf.reduce_sum(query * tf.math.l2_normalize(label_pre_out, -1), -1),
            negative_scores, labels, negatives)
        user_losses = tf.reduce_sum(per_user(losses) * mask, axis=1)
        total_loss = tf.reduce_sum(user_losses)
    (d_history_mean, d_label_item, d_label_category, d_negative_scores, d_query_pre,
     d_query_pre_out, d_label_pre, d_label_pre_out) = tape.gradient(
        total_loss,
        [history_mean, label_item, label_category, negative_scores, query_pre, query_pre_out,
         label_pre, label_pre_out])
    # Each user's cotangent on the negatives' normalised embeddings (Σ over their rows), then
    # back through the normalisation and the candidate MLP, by hand.
    d_negative = tf.matmul(per_user(d_negative_scores), per_user(query),
                           transpose_a=True)                                       # [u, m, d]
    query_input = tf.concat([text, history_mean], -1)
    label_input = tf.concat([label_embedding, label_title], -1)
    d_negative_out = (d_negative - negative * tf.reduce_sum(
        negative * d_negative, -1, keepdims=True)) * negative_inverse_norm
    d_negative_hidden = tf.matmul(d_negative_out, candidate_out.kernel, transpose_b=True)
    d_negative_pre = d_negative_hidden * tf.cast(negative_pre > 0, tf.float32)   # [u, m, 64]
    d_negative_embedding = tf.einsum("umo,io->umi", d_negative_pre,
                                     candidate_hidden.kernel[:embedding_dim])

    history_ids = tf.reshape(history, [slots, -1])
    d_history_items = tf.reshape(
        per_user(d_history_mean)[:, :, tf.newaxis] * history_weight[..., tf.newaxis],
        [slots, -1, item_dim])
    negative_ids = tf.broadcast_to(negatives, [slots, tf.size(negatives)])
    item_ids = tf.concat([history_ids, per_user(labels), negative_ids], 1)
    d_items = tf.concat([d_history_items, per_user(d_label_item),
                         d_negative_embedding[..., :item_dim]], 1)
    category_ids = tf.concat([per_user(label_categories), tf.broadcast_to(
        negative_categories, [slots, tf.size(negatives)])], 1)
    d_categories = tf.concat([per_user(d_label_category),
                              d_negative_embedding[..., item_dim:]], 1)

    label_cross = title_cross + tf.matmul(label_embedding, negative_input[:, :embedding_dim],
                                          transpose_b=True)                   # [u * k, m]

    def norms(grams, delta, delta_shared=None):  # a first layer's kernel and bias
        return (_gram_norms(grams, per_user(delta), delta_shared)
                + _bias_norms(per_user(delta), delta_shared))

    def small_norms(x, delta, x_shared=None, delta_shared=None):  # an output layer's
        return (_materialized_norms(per_user(x), per_user(delta), x_shared, delta_shared)
                + _bias_norms(per_user(delta), delta_shared))

    squared_norms = (
        norms((tf.matmul(per_user(query_input), per_user(query_input), transpose_b=True),
                None, None), d_query_pre)
        + small_norms(query_act, d_query_pre_out)
        + norms((tf.matmul(per_user(label_input), per_user(label_input), transpose_b=True),
                 per_user(label_cross), tf.matmul(negative_input, negative_input,
                                                  transpose_b=True)),
                d_label_pre, d_negative_pre)
        + small_norms(label_act, d_label_pre_out, negative_hidden, d_negative_out)
        + _embedding_norms(item_ids, d_items, item_table.shape[0])
        + _embedding_norms(category_ids, d_categories, category_table.shape[0]))
    # A sum of Gram terms is ‖·‖² exactly but can round below 0 when the terms cancel; the
    # square root of that would be NaN, and one NaN weight would poison the whole step.
    weight = clip_weights(tf.sqrt(tf.maximum(squared_norms, 0.0)))                # [u]
    row_weight = tf.repeat(weight, k)[:, tf.newaxis]                              # [u * k, 1]

    def kernel_and_bias(layer, x, delta, x_shared=None, delta_shared=None):
        """{kernel: Σ_u w_u Σ_rows xᵀδ, bias: Σ_u w_u Σ_rows δ} of a Dense layer."""
        delta = delta * row_weight
        kernel, bias = tf.matmul(x, delta, transpose_a=True), tf.reduce_sum(delta, 0)
        if x_shared is not None:
            shared = tf.tensordot(weight, delta_shared, axes=1)                  # [m, out]
            kernel += tf.matmul(x_shared, shared, transpose_a=True)
            bias += tf.reduce_sum(shared, 0)
        return {layer.kernel.ref(): kernel, layer.bias.ref(): bias}

    def embedding(layer, ids, deltas):
        return {layer.embeddings.ref(): tf.math.unsorted_segment_sum(
            tf.reshape(deltas * weight[:, tf.newaxis, tf.newaxis], [-1, deltas.shape[-1]]),
            tf.reshape(ids, [-1]), layer.input_dim)}

    gradients = {
        **kernel_and_bias(query_hidden, query_input, d_query_pre),
        **kernel_and_bias(query_out, query_act, d_query_pre_out),
        **kernel_and_bias(candidate_hidden, label_input, d_label_pre, negative_input,
                          d_negative_pre),
        **kernel_and_bias(candidate_out, label_act, d_label_pre_out, negative_hidden,
                          d_negative_out),
        **embedding(model.item_embedding, item_ids, d_items),
        **embedding(model.category_embedding, category_ids, d_categories)}
    return [gradients[v.ref()] for v in model.trainable_variables], user_losses
