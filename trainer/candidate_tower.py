"""The candidate tower (TFRS's candidate model): an item's id embedding (unless the model has
none: item_id_embeddings; with selected_item_ids, frequent items' own rows only:
trainer/selected_item_ids.py), category embedding and title vector, through an MLP,
l2-normalised.

The catalog's features per item index (`item_category`, `item_title_tokens` and the titles'
MiniLM vectors `item_title_vectors`) are non-trainable weights of the tower, so a saved model
carries the public catalog it was trained on. Titles go through the pretrained MiniLM only
(trained top layers, if any, are the query's), so each title is embedded once, before the tower
is built. The item-id embedding is also the query tower's history embedding
(trainer/query_tower.py).
"""
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from trainer import value_gather
from trainer.selected_item_ids import SelectedItemEmbedding

# The tower's Python control flow is on Python values only, so it needs no AutoGraph (see
# trainer/query_tower.py).
_no_autograph = tf.autograph.experimental.do_not_convert

CATEGORY_DIM = 8
# The public catalog's features per item index, carried as non-trainable weights.
CATALOG_WEIGHTS = {"item_category": np.int64, "item_title_tokens": np.int64,
                   "item_title_vectors": np.float32}


@tf.keras.utils.register_keras_serializable(package="privrec")
class CandidateTower(tf.keras.layers.Layer):
    """[...] item indices -> [..., embedding_dim] unit candidate embeddings.

    float32 whatever the global policy: its layers may compute in mixed precision
    (trainer/devices.py), its output does not."""

    def __init__(self, num_items: int, embedding_dim: int, item_category: np.ndarray,
                 item_title_tokens: np.ndarray, item_title_vectors: np.ndarray,
                 num_categories: Optional[int] = None, item_id_embeddings: bool = True,
                 selected_item_ids: bool = False, **kwargs):
        super().__init__(**{**kwargs, "dtype": "float32", "autocast": False})
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.num_categories = num_categories or int(np.max(item_category)) + 1
        # Without it an item is its public features alone (trainer/title_lookup.py).
        if selected_item_ids and not item_id_embeddings:
            raise ValueError("selected_item_ids selects rows of the item-id embedding: the "
                             "model needs item_id_embeddings")
        id_embedding = SelectedItemEmbedding if selected_item_ids else value_gather.Embedding
        self.item_embedding = (id_embedding(num_items, embedding_dim)
                               if item_id_embeddings else None)
        self.category_embedding = value_gather.Embedding(self.num_categories, CATEGORY_DIM)
        self.item_title_vectors = self.add_weight(
            "item_title_vectors", shape=np.shape(item_title_vectors), dtype=tf.float32,
            trainable=False, initializer=tf.keras.initializers.Constant(item_title_vectors))
        self.item_category = self.add_weight(
            "item_category", shape=np.shape(item_category), dtype=tf.int64, trainable=False,
            initializer=tf.keras.initializers.Constant(np.asarray(item_category)))
        self.item_title_tokens = self.add_weight(
            "item_title_tokens", shape=np.shape(item_title_tokens), dtype=tf.int64,
            trainable=False,
            initializer=tf.keras.initializers.Constant(np.asarray(item_title_tokens)))
        # The output layer is float32: embeddings, logits and the loss stay float32.
        self.mlp = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                        tf.keras.layers.Dense(embedding_dim, dtype="float32")])
        # Every variable exists now, so saved weights load into a fresh instance.
        for embedding in filter(None, (self.item_embedding, self.category_embedding)):
            embedding(tf.zeros([1], tf.int64))  # built in its name scope, as on a first call
        id_dim = embedding_dim if item_id_embeddings else 0
        self.mlp.build([None, id_dim + CATEGORY_DIM + self.item_title_vectors.shape[-1]])
        self.built = True

    @property
    def item_id_embeddings(self) -> bool:
        """Whether an item's id has an embedding (`item_embedding`), or the item is its public
        features alone."""
        return self.item_embedding is not None

    @property
    def selected_item_ids(self) -> bool:
        """Whether only selected items have id rows of their own (trainer/selected_item_ids.py)."""
        return isinstance(self.item_embedding, SelectedItemEmbedding)

    @_no_autograph
    def call(self, item_idx: tf.Tensor, training=None) -> tf.Tensor:  # no dropout
        category_vec = self.category_embedding(value_gather.gather_value(self.item_category,
                                                                         item_idx))
        text_vec = tf.cast(value_gather.gather_value(self.item_title_vectors, item_idx),
                           category_vec.dtype)
        ids = [self.item_embedding(item_idx)] if self.item_embedding is not None else []
        joint = tf.concat([*ids, category_vec, text_vec], -1)
        return tf.math.l2_normalize(self.mlp(joint), -1)

    def catalog_matches(self, item_category: np.ndarray, item_title_tokens: np.ndarray) -> bool:
        """Whether this tower holds this catalog (same items, categories, titles)."""
        return (self.item_category.shape == np.shape(item_category)
                and self.item_title_tokens.shape == np.shape(item_title_tokens)
                and bool(np.array_equal(self.item_category.numpy(), item_category))
                and bool(np.array_equal(self.item_title_tokens.numpy(), item_title_tokens)))

    def get_config(self):
        return {**super().get_config(), "num_items": self.num_items,
                "embedding_dim": self.embedding_dim, "num_categories": self.num_categories,
                "item_id_embeddings": self.item_id_embeddings,
                "selected_item_ids": self.selected_item_ids,
                **{name: {"shape": getattr(self, name).shape.as_list()}
                   for name in CATALOG_WEIGHTS}}

    @classmethod
    def from_config(cls, config):
        """A tower of the saved shape; the catalog features come with the weights."""
        return cls(**with_catalog_placeholders(config))


def with_catalog_placeholders(config: Dict) -> Dict:
    """A saved config whose catalog weights ({"shape": ...}, CATALOG_WEIGHTS) are zeros of that
    shape: what a tower or model is built with before its weights are loaded."""
    return {**config, **{name: np.zeros(config[name]["shape"], dtype)
                         for name, dtype in CATALOG_WEIGHTS.items()}}
