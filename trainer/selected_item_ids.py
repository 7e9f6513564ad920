"""Item-id embeddings for frequent items only (TrainerConfig.item_id_min_count), as Google's
DP-FEST filters embedding updates by a DP count.

Under user-level DP-SGD every row of the item-id table gets noise every step, and a rare item's
row gets little else: its vector is mostly noise, and it scores that item at random. Here each
item index maps to a table row (`id_rows`, a non-trainable weight the model saves): an item
whose DP count (the popularity prior's, already released and in ε) reaches the threshold keeps
its own row; every other item shares the unknown item's row and is, beyond that one vector, its
public title and category alone. The selection reads the released counts only, so it is
post-processing: no new release, no ε.
"""
import numpy as np
import tensorflow as tf

from trainer import catalog as catalog_lib
from trainer import value_gather


@tf.keras.utils.register_keras_serializable(package="privrec")
class SelectedItemEmbedding(value_gather.Embedding):
    """value_gather.Embedding whose lookup goes through `id_rows` (index -> table row; the
    identity until `select` is called)."""

    def build(self, input_shape=None):
        super().build(input_shape)
        self.id_rows = self.add_weight(
            "id_rows", shape=[self.input_dim], dtype=tf.int64, trainable=False,
            initializer=tf.keras.initializers.Constant(np.arange(self.input_dim)))

    def rows(self, inputs: tf.Tensor) -> tf.Tensor:
        """The table rows of item indices."""
        return value_gather.gather_value(self.id_rows, tf.cast(inputs, tf.int64))

    def call(self, inputs):
        return super().call(self.rows(inputs))

    def select(self, selected: np.ndarray) -> int:
        """Keeps a row of its own for the item indices where `selected` [input_dim] holds; the
        others (padding excepted) look up the unknown item's row. Returns the items kept."""
        selected = np.asarray(selected, bool).copy()
        selected[:catalog_lib.FIRST_ITEM_INDEX] = True  # padding and unknown are themselves
        self.id_rows.assign(np.where(selected, np.arange(self.input_dim),
                                     catalog_lib.UNKNOWN_INDEX).astype(np.int64))
        return int(selected[catalog_lib.FIRST_ITEM_INDEX:].sum())


def select_frequent_items(embedding: SelectedItemEmbedding, log_popularity: np.ndarray,
                          min_count: float) -> int:
    """Keeps own rows for the items whose DP count (log_popularity = log(1 + count), the
    released prior) is at least `min_count`; returns how many."""
    if not min_count >= 0:
        raise ValueError(f"item_id_min_count must be >= 0, got {min_count}")
    return embedding.select(np.asarray(log_popularity) >= np.log1p(min_count))
