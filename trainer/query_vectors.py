"""Query text vectors computed once per distinct query, before training (frozen encoder only).

With MiniLM frozen (text_trainable_layers = 0, the default) a query's text vector is a fixed,
pretrained function of that query alone: computing it once per distinct query before training
gives every example exactly the vector a training step would compute, so each user's loss still
depends on their data alone and DP-SGD is unchanged. Shops repeat queries (22k distinct in 300k
generated interactions), so this runs MiniLM once per distinct query instead of once per
sampled example per step. The table lives in the trainer's memory only: it is never saved and
the served model still embeds raw query text itself.
"""
from typing import Dict

import numpy as np

from trainer import features

QUERY_VECTOR = "query_text_vector"  # the query's MiniLM embedding, when computed beforehand


class VectorRows:
    """Rows of a [distinct, dim] table by a per-example index: indexes like the [examples, dim]
    array it stands for (rows[i], rows[a:b], rows[[...]]) without holding it."""

    def __init__(self, table: np.ndarray, index: np.ndarray):
        self.table, self.index = table, index
        self.shape = (len(index),) + table.shape[1:]
        self.dtype = table.dtype

    def __getitem__(self, rows):
        return self.table[self.index[rows]]


def precompute(examples: Dict[str, np.ndarray], text_encoder,
               batch: int = 256) -> Dict[str, np.ndarray]:
    """The examples with their query tokens replaced by the frozen encoder's query vectors
    (VectorRows: one vector per distinct query)."""
    if text_encoder.trainable_layers:
        raise ValueError("query vectors can be computed beforehand only with a frozen text "
                         f"encoder; this one trains its top {text_encoder.trainable_layers} "
                         "layer(s), so each step must run them")
    tokens = np.asarray(examples[features.QUERY_TOKENS])
    distinct, index = np.unique(tokens, axis=0, return_inverse=True)
    # By number of real tokens, so each encoder batch is trimmed to similar lengths.
    order = np.argsort(np.count_nonzero(distinct, axis=1), kind="stable")
    table = np.empty([len(distinct), text_encoder.dim], np.float32)
    table[order] = text_encoder.encode_in_batches(distinct[order], batch)
    rest = {name: values for name, values in examples.items() if name != features.QUERY_TOKENS}
    return {**rest, QUERY_VECTOR: VectorRows(table, index.reshape(-1))}
