"""The public product catalog: item index and per-item features.

Every vocabulary the model uses is public: the item index comes from the catalog and the text
vocabulary is MiniLM's (trainer/minilm.py), never from private interactions, so no vocabulary
reveals who is in the training data. Item indices: 0 = padding, 1 = unknown item,
2 + row number in catalog.csv = that item.
"""
import csv
import dataclasses
from typing import List

import numpy as np
import tensorflow as tf

from privrec.data import sources
from trainer import minilm

PAD_INDEX, UNKNOWN_INDEX, FIRST_ITEM_INDEX = 0, 1, 2


@dataclasses.dataclass
class Catalog:
    item_ids: List[str]
    titles: List[str]
    categories: List[str]

    @classmethod
    def load(cls, path: str) -> "Catalog":
        if not sources.exists(path):
            raise FileNotFoundError(f"catalog {path} not found (columns item_id,title,category,...)")
        with sources.open_text(path) as f:
            rows = list(csv.DictReader(f))
        ids = [r["item_id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{path}: item_id values must be unique")
        return cls(ids, [r["title"] for r in rows], [r["category"] for r in rows])

    @property
    def num_indices(self) -> int:
        """Size of the item index space (padding + unknown + items)."""
        return len(self.item_ids) + FIRST_ITEM_INDEX

    @property
    def category_names(self) -> List[str]:
        return sorted(set(self.categories))

    def item_table(self) -> tf.lookup.StaticHashTable:
        """item_id -> index (2..), unknown ids -> 1."""
        keys = tf.constant(self.item_ids)
        values = tf.range(FIRST_ITEM_INDEX, self.num_indices, dtype=tf.int64)
        return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values),
                                         default_value=UNKNOWN_INDEX)

    def category_index(self) -> np.ndarray:
        """[num_indices] category index per item index (0 for padding/unknown)."""
        names = {c: i + 1 for i, c in enumerate(self.category_names)}
        return np.array([0, 0] + [names[c] for c in self.categories], np.int64)

    def title_token_ids(self, max_tokens: int) -> np.ndarray:
        """[num_indices, max_tokens] MiniLM WordPiece ids of each item's title."""
        return minilm.tokenize(tf.constant(["", ""] + self.titles), max_tokens).numpy()
