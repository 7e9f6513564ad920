"""The query tower (TFRS's query model): the query text through MiniLM plus the mean of the
recent items' embeddings, through an MLP, l2-normalised.

The recent items are embedded with the candidate tower's item-id embedding, received here and
not copied: an item is one vector whether it is a candidate or in a user's history. A model
without item-id embeddings passes its items' title vectors instead (trainer/title_lookup.py).
There is no user-id embedding: it would memorise individuals and cannot serve new users.
"""
from typing import Dict, Optional

import tensorflow as tf

from trainer import features
from trainer.query_vectors import QUERY_VECTOR
from trainer.text_encoder import TextEncoder

# The frozen MiniLM layers' output for the query and its token mask, when computed beforehand
# (text_trainable_layers > 0: the top layers then run inside each user's gradient).
QUERY_HIDDEN, QUERY_TOKEN_MASK = "query_text_hidden", "query_text_token_mask"

# The tower's Python control flow is on Python values only, so it needs no AutoGraph. Left on,
# AutoGraph transpiles tf_keras itself (its "keras" no-convert rule does not match the tf_keras
# package): ~20 s of every Trainer run.
_no_autograph = tf.autograph.experimental.do_not_convert


def _masked_mean(sequence: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean over the last-but-one axis of the rows where `mask` holds (0 when none does)."""
    mask = tf.cast(mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_sum(sequence * mask, axis=-2) / tf.maximum(tf.reduce_sum(mask, axis=-2), 1.0)


@tf.keras.utils.register_keras_serializable(package="privrec")
class QueryTower(tf.keras.layers.Layer):
    """{HISTORY: [..., h] item indices (0 = padding), and the query as QUERY_VECTOR (frozen
    MiniLM, computed beforehand), QUERY_HIDDEN + QUERY_TOKEN_MASK (the trained top layers'
    input) or QUERY_TOKENS} -> [..., embedding_dim] unit query embeddings.

    float32 whatever the global policy, and its inputs are not cast: its layers may compute in
    mixed precision (trainer/devices.py), its output does not."""

    def __init__(self, embedding_dim: int, item_embedding: tf.keras.layers.Layer,
                 text_encoder: TextEncoder, text_dims: Optional[int] = None, **kwargs):
        super().__init__(**{**kwargs, "dtype": "float32", "autocast": False})
        self.embedding_dim = embedding_dim
        self.item_embedding = item_embedding
        self.text_encoder = text_encoder
        # Set: query vectors are projected onto the catalog titles' principal directions, as
        # the titles are (trainer/title_projection.py; TwoTowerModel sets the weight).
        self.text_projection = None if text_dims is None else self.add_weight(
            "text_projection", shape=[text_encoder.dim, text_dims], dtype=tf.float32,
            trainable=False, initializer="zeros")
        # The output layer is float32: embeddings, logits and the loss stay float32.
        self.mlp = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                        tf.keras.layers.Dense(embedding_dim, dtype="float32")])
        # Every variable exists now, so saved weights load into a fresh instance.
        if not item_embedding.built:
            item_embedding(tf.zeros([1], tf.int64))  # built in its name scope, as on a first call
        self.mlp.build([None, (text_dims or text_encoder.dim) + item_embedding.output_dim])
        self.built = True

    @_no_autograph
    def call(self, inputs: Dict[str, tf.Tensor], training=None) -> tf.Tensor:  # no dropout
        history = inputs[features.HISTORY]
        history_vec = _masked_mean(self.item_embedding(history), tf.not_equal(history, 0))
        if QUERY_VECTOR in inputs:
            text_vec = inputs[QUERY_VECTOR]
        elif QUERY_HIDDEN in inputs:
            text_vec = self.text_encoder.upper(inputs[QUERY_HIDDEN], inputs[QUERY_TOKEN_MASK])
        else:
            text_vec = self.text_encoder(inputs[features.QUERY_TOKENS])
        text_vec = tf.cast(self.text_input(text_vec), history_vec.dtype)  # the layers' dtype
        return tf.math.l2_normalize(self.mlp(tf.concat([text_vec, history_vec], -1)), -1)

    def text_input(self, text_vec: tf.Tensor) -> tf.Tensor:
        """[..., encoder dim] query vectors -> the MLP's text input (projected, if set)."""
        if self.text_projection is None:
            return text_vec
        return tf.einsum("...i,io->...o", tf.cast(text_vec, tf.float32), self.text_projection)

    def prepare_batch(self, users: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """A [slots, k] batch with the encoder's frozen part run once for every query, outside
        any per-user gradient: query vectors (frozen MiniLM), or the hidden states its trained
        top layers take. Unchanged when already done (trainer/query_vectors.py)."""
        if QUERY_VECTOR in users or QUERY_HIDDEN in users:
            return users
        tokens = users[features.QUERY_TOKENS]
        hidden, mask = self.text_encoder.lower(tf.reshape(tokens, [-1, tf.shape(tokens)[-1]]))
        slots = tf.shape(tokens)[:2]

        def per_slot(t):  # [slots * k, ...] -> [slots, k, ...]
            return tf.reshape(t, tf.concat([slots, tf.shape(t)[1:]], 0))

        if self.text_encoder.trainable_layers:
            return {**users, QUERY_HIDDEN: per_slot(hidden), QUERY_TOKEN_MASK: per_slot(mask)}
        vectors = self.text_encoder.upper(hidden, mask)
        return {**users, QUERY_VECTOR: tf.reshape(
            vectors, tf.concat([slots, [self.text_encoder.dim]], 0))}

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim,
                "text_dims": (None if self.text_projection is None
                              else int(self.text_projection.shape[-1])),
                "item_embedding": tf.keras.layers.serialize(self.item_embedding),
                "text_encoder": tf.keras.layers.serialize(self.text_encoder)}

    @classmethod
    def from_config(cls, config):
        """A tower with its own item embedding and encoder (TwoTowerModel shares its own)."""
        config = dict(config)
        for name in ("item_embedding", "text_encoder"):
            config[name] = tf.keras.layers.deserialize(config[name])
        return cls(**config)
