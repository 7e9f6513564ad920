"""The two-tower model's trainable layers' inputs and cotangents in a [users, k] batch: the
narrow interface ghost clipping needs (privrec/privacy/ghost_clipping.py), nothing of DP.

TF-Privacy's fast clipping registry works on Keras functional models whose layers see one row
per example. In this model the shared catalog negatives (trainer/model.py) are one set of rows
whose cotangents differ per user, which that registry cannot express. So this module writes the
two towers' forward pass (trainer/query_tower.py, trainer/candidate_tower.py) with their layers'
own variables and gets, from one backward pass:

- each query row's cotangents (the query MLP's pre-activations, the history mean vector) and
  each label row's (the candidate MLP's pre-activations, its item and category embeddings);
- each *user's* cotangent on the negatives' candidate outputs (Σ over their rows), taken back
  through the normalisation and the candidate MLP by hand, per user.

The backward pass never goes into the frozen inputs (query and title vectors): their part of
each first layer is computed outside the tape, and in the same matmul the label titles'
products with the negatives' (a Gram cross term the norms need).

A model without item-id embeddings (trainer/title_lookup.py) goes through the same pass with no
item table: its history mean is of the items' title vectors, a frozen input of the query MLP's
first layer like the query vector (nothing before that layer's pre-activations is watched, so
the tape records no op there), and an item's candidate input is its category embedding and
title vector; only the category embedding and the MLPs train.
"""
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from privrec.privacy.ghost_clipping import DenseUse, EmbeddingUse
from trainer import features
from trainer.query_vectors import QUERY_VECTOR
from trainer.title_lookup import TitleLookup


def _history_is_the_items(query, candidate) -> bool:
    """Whether the query tower's history embedding is the candidate tower's item embedding
    (one table, as the pass reads it) or, without one, its title vectors (TitleLookup)."""
    if candidate.item_id_embeddings:
        return query.item_embedding is candidate.item_embedding
    return (isinstance(query.item_embedding, TitleLookup)
            and query.item_embedding.item_title_vectors is candidate.item_title_vectors)


def supported(model) -> bool:
    """Whether the trainable variables are exactly the towers' (embeddings and the two MLPs:
    Dense with bias and ReLU, then Dense with bias and no activation, as the hand-written pass
    computes them), all float32, and the query tower's history embedding is the candidate
    tower's item embedding or, in a model without one, its title vectors."""
    query, candidate = model.query_tower, model.candidate_tower
    layers = [*filter(None, [candidate.item_embedding]), candidate.category_embedding,
              *query.mlp.layers, *candidate.mlp.layers]
    own = {v.ref() for layer in layers for v in layer.trainable_variables}
    mlps = (query.mlp.layers, candidate.mlp.layers)
    return (_history_is_the_items(query, candidate)
            and own == {v.ref() for v in model.trainable_variables}
            and all(len(mlp) == 2 for mlp in mlps)
            and all([tf.keras.activations.serialize(dense.activation) for dense in mlp]
                    == ["relu", "linear"] and all(dense.use_bias for dense in mlp)
                    for mlp in mlps)
            and all(layer.compute_dtype == "float32" for layer in layers))


def layer_cotangents(model, users: Dict[str, tf.Tensor], negatives: tf.Tensor,
                     weights: tf.Tensor) -> Optional[Tuple[List, tf.Tensor]]:
    """(the layers' uses, [users] Σ_rows weights · loss) for a [users, k] batch with
    precomputed query vectors and per-row `weights` [users, k]; None when the hand-written
    pass does not cover the model (`supported`) or the batch has no query vectors."""
    if QUERY_VECTOR not in users or not supported(model):
        return None
    slots, k = tf.shape(weights)[0], tf.shape(weights)[1]
    candidate = model.candidate_tower
    category_table = tf.convert_to_tensor(candidate.category_embedding.embeddings)
    item_category = tf.convert_to_tensor(candidate.item_category)
    title_vectors = tf.convert_to_tensor(candidate.item_title_vectors)
    query_hidden, query_out = model.query_tower.mlp.layers
    candidate_hidden, candidate_out = candidate.mlp.layers
    # Without item ids (trainer/title_lookup.py) the history is the mean of the title vectors
    # (frozen: no cotangent taken) and the item table has no columns: an item's rows below are
    # then its category embedding and title vector alone, in the same pass.
    with_ids = candidate.item_id_embeddings
    item_table = (tf.convert_to_tensor(candidate.item_embedding.embeddings) if with_ids
                  else title_vectors[:, :0])
    history_table = item_table if with_ids else title_vectors
    # With selected item ids (trainer/selected_item_ids.py) an item's table row is its id row.
    item_rows = (candidate.item_embedding.rows if candidate.selected_item_ids
                 else tf.identity)
    item_dim = item_table.shape[-1]
    embedding_dim = item_dim + category_table.shape[-1]

    def dense(x, layer):  # the layer's matmul on [rows, in] (its activation comes after)
        return tf.matmul(x, layer.kernel) + layer.bias

    def per_user(t):  # [users * k, ...] -> [users, k, ...]
        return tf.reshape(t, tf.concat([[slots, k], tf.shape(t)[1:]], 0))

    def flat(t):  # [users, k, ...] -> [users * k, ...]
        return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))

    history = users[features.HISTORY]                                            # [u, k, h]
    history_rows = item_rows(history)  # the identity unless ids are selected
    history_weight = tf.cast(tf.not_equal(history, 0), tf.float32)
    history_weight /= tf.maximum(tf.reduce_sum(history_weight, -1, keepdims=True), 1.0)
    labels = tf.reshape(users[features.LABEL], [-1])                             # [u * k]
    label_categories = tf.gather(item_category, labels)
    negative_categories = tf.gather(item_category, negatives)
    text = model.query_tower.text_input(flat(tf.cast(users[QUERY_VECTOR], tf.float32)))

    # The negatives' candidate MLP, shared by all users (no per-row gradient).
    negative_input = tf.concat([tf.gather(item_table, item_rows(negatives)),
                                tf.gather(category_table, negative_categories),
                                tf.gather(title_vectors, negatives)], -1)        # [m, in]
    negative_pre = dense(negative_input, candidate_hidden)
    negative_hidden = tf.nn.relu(negative_pre)
    negative_out = dense(negative_hidden, candidate_out)                          # [m, d]
    # l2_normalize's own form, and 1 / the norm it divided by
    negative_inverse_norm = tf.math.rsqrt(tf.maximum(
        tf.reduce_sum(tf.square(negative_out), -1, keepdims=True), 1e-12))
    negative = negative_out * negative_inverse_norm

    text_dim = query_hidden.kernel.shape[0] - history_table.shape[-1]
    text_pre = tf.matmul(text, query_hidden.kernel[:text_dim]) + query_hidden.bias
    label_title = tf.gather(title_vectors, labels)
    # Each user's norm over the shared negatives comes from their Gram matrix (users × m² ×
    # hidden) or from the user's kernel gradient itself (users × m × in × hidden), the cheaper;
    # the Grams need the label titles' products with the negatives', in the same matmul.
    by_grams = negatives.shape[0] is None or negative_input.shape[-1] > negatives.shape[0]
    title_products = tf.matmul(label_title, tf.concat(
        [candidate_hidden.kernel[embedding_dim:],
         *([tf.transpose(negative_input[:, embedding_dim:])] if by_grams else [])], 1))
    hidden_units = candidate_hidden.kernel.shape[1]
    title_pre = title_products[:, :hidden_units] + candidate_hidden.bias

    with tf.GradientTape(watch_accessed_variables=False, persistent=False) as tape:
        history_mean = flat(tf.einsum("ukh,ukhd->ukd", history_weight,
                                      tf.gather(history_table, history_rows)))
        label_item = tf.gather(item_table, item_rows(labels))
        label_category = tf.gather(category_table, label_categories)
        tape.watch([history_mean, label_item] if with_ids else [])
        tape.watch(label_category)
        query_pre = text_pre + tf.matmul(history_mean, query_hidden.kernel[text_dim:])
        tape.watch(query_pre)  # before its uses: without ids no input of it is watched
        query_act = tf.nn.relu(query_pre)
        query_pre_out = dense(query_act, query_out)
        label_embedding = tf.concat([label_item, label_category], -1)
        label_pre = title_pre + tf.matmul(label_embedding,
                                          candidate_hidden.kernel[:embedding_dim])
        label_act = tf.nn.relu(label_pre)
        label_pre_out = dense(label_act, candidate_out)
        tape.watch([query_pre_out, label_pre, label_pre_out])
        query = tf.math.l2_normalize(query_pre_out, -1)
        negative_scores = tf.matmul(query, negative, transpose_b=True)           # [u * k, m]
        tape.watch(negative_scores)
        losses = model.task(
            tf.reduce_sum(query * tf.math.l2_normalize(label_pre_out, -1), -1),
            negative_scores, labels, negatives, model.item_log_popularity)
        user_losses = tf.reduce_sum(per_user(losses) * weights, axis=1)
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

    item_uses = []
    if with_ids:  # the item table: looked up by the history, the labels and the negatives
        d_history_items = tf.reshape(
            per_user(d_history_mean)[:, :, tf.newaxis] * history_weight[..., tf.newaxis],
            [slots, -1, item_dim])
        item_uses.append(EmbeddingUse(
            candidate.item_embedding.embeddings,
            item_rows(tf.concat([tf.reshape(history, [slots, -1]), per_user(labels),
                                 tf.broadcast_to(negatives, [slots, tf.size(negatives)])], 1)),
            tf.concat([d_history_items, per_user(d_label_item),
                       d_negative_embedding[..., :item_dim]], 1)))
    candidate_grams = (
        tf.matmul(per_user(label_input), per_user(label_input), transpose_b=True),
        per_user(title_products[:, hidden_units:] + tf.matmul(
            label_embedding, negative_input[:, :embedding_dim], transpose_b=True)),  # [u, k, m]
        tf.matmul(negative_input, negative_input, transpose_b=True)) if by_grams else None
    uses = [
        DenseUse(query_hidden.kernel, query_hidden.bias, query_input, d_query_pre, grams=(
            tf.matmul(per_user(query_input), per_user(query_input), transpose_b=True),
            None, None)),
        DenseUse(query_out.kernel, query_out.bias, query_act, d_query_pre_out),
        DenseUse(candidate_hidden.kernel, candidate_hidden.bias, label_input, d_label_pre,
                 negative_input, d_negative_pre, grams=candidate_grams),
        DenseUse(candidate_out.kernel, candidate_out.bias, label_act, d_label_pre_out,
                 negative_hidden, d_negative_out),
        *item_uses,
        EmbeddingUse(candidate.category_embedding.embeddings,
                     tf.concat([per_user(label_categories), tf.broadcast_to(
                         negative_categories, [slots, tf.size(negatives)])], 1),
                     tf.concat([per_user(d_label_category),
                                d_negative_embedding[..., item_dim:]], 1)),
    ]
    return uses, user_losses
