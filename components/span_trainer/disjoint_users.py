"""The check behind SpanConfig.spans_share_users=False: the spans hold disjoint users.

Parallel composition (a span's ε composes only the runs that trained on it) is only true when
no pseudonym is in two spans. Declaring it is not enough: the SpanTrainer reads the pseudonyms
of every span it trains on and refuses the run when two spans share one.
"""
import os
from typing import Dict, Iterable, List, Set

import tensorflow as tf
from tfx.types import artifact_utils

from privrec.data import schema


def pseudonyms(examples) -> Set[bytes]:
    """Every user_id (pseudonym) in an Examples artifact, all splits."""
    users: Set[bytes] = set()
    for split in artifact_utils.decode_split_names(examples.split_names):
        pattern = os.path.join(artifact_utils.get_split_uri([examples], split), "*")
        files = tf.io.gfile.glob(pattern)
        if not files:
            continue
        records = tf.data.TFRecordDataset(files, compression_type="GZIP")
        for record in records.as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            users.update(example.features.feature[schema.USER_ID].bytes_list.value)
    return users


def shared_users(users_by_span: Dict[int, Set[bytes]]) -> Dict[tuple, int]:
    """(span a, span b) -> number of pseudonyms in both, for every pair that shares any."""
    spans = sorted(users_by_span)
    return {(a, b): len(users_by_span[a] & users_by_span[b])
            for i, a in enumerate(spans) for b in spans[i + 1:]
            if users_by_span[a] & users_by_span[b]}


def check(examples: Iterable) -> None:
    """Raises ValueError naming the spans that share users (counts only, no pseudonym)."""
    by_span: Dict[int, Set[bytes]] = {}
    for artifact in examples:
        by_span.setdefault(artifact.span, set()).update(pseudonyms(artifact))
    overlaps = shared_users(by_span)
    if overlaps:
        pairs: List[str] = [f"spans {a} and {b}: {n} users" for (a, b), n in overlaps.items()]
        raise ValueError(
            "SpanConfig.spans_share_users is False (--spans-disjoint-users), but the spans "
            f"to train on share users ({'; '.join(pairs)}): per-span ε would undercount them. "
            "Leave spans_share_users at True (every run composes for every span), or give "
            "each span its own users")
