"""The public product catalog: item index, WordPiece vocabulary and per-item features.

Every vocabulary the model uses comes from here, never from private interactions, so no
vocabulary reveals who is in the training data. Item indices: 0 = padding, 1 = unknown item,
2 + row number in catalog.csv = that item.
"""
import csv
import dataclasses
import os
import re
from typing import List

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from components.masking import text_scrubber

PAD_INDEX, UNKNOWN_INDEX, FIRST_ITEM_INDEX = 0, 1, 2
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _words(text: str) -> List[str]:
    return _WORD.findall(text.lower())


@dataclasses.dataclass
class Catalog:
    item_ids: List[str]
    titles: List[str]
    categories: List[str]

    @classmethod
    def load(cls, path: str) -> "Catalog":
        if not os.path.exists(path):
            raise FileNotFoundError(f"catalog {path} not found (columns item_id,title,category,...)")
        with open(path, newline="", encoding="utf-8") as f:
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

    def wordpiece_vocab(self) -> List[str]:
        """Whole catalog words plus single characters, so any word can be spelled out."""
        words = set()
        for text in self.titles + self.categories + [" ".join(text_scrubber.PLACEHOLDERS)]:
            words.update(_words(text))
        pieces = set(_CHARS) | {"##" + c for c in _CHARS}
        return SPECIAL_TOKENS + sorted(words | pieces)

    def write_vocab(self, directory: str) -> str:
        """Writes the WordPiece vocabulary file (one token a line); returns its path."""
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "wordpiece_vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.wordpiece_vocab()) + "\n")
        return path

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

    def title_token_ids(self, vocab_path: str, max_tokens: int) -> np.ndarray:
        """[num_indices, max_tokens] WordPiece ids of each item's title."""
        titles = tf.constant(["", ""] + self.titles)
        return tokenize(titles, make_tokenizer(vocab_path), max_tokens).numpy()


def make_tokenizer(vocab_path: str) -> tf_text.BertTokenizer:
    return tf_text.BertTokenizer(vocab_path, lower_case=True, token_out_type=tf.int64,
                                 unknown_token="[UNK]")


def tokenize(texts: tf.Tensor, tokenizer: tf_text.BertTokenizer, max_tokens: int) -> tf.Tensor:
    """[batch] strings -> [batch, max_tokens] ids: [CLS] pieces... [SEP], padded with 0."""
    pieces = tokenizer.tokenize(texts).merge_dims(-2, -1)[:, :max_tokens - 2]
    ids, _ = tf_text.combine_segments([pieces], start_of_sequence_id=SPECIAL_TOKENS.index("[CLS]"),
                                      end_of_segment_id=SPECIAL_TOKENS.index("[SEP]"))
    return ids.to_tensor(default_value=0, shape=[None, max_tokens])
