"""The retrieval task (TFRS splits a model into towers and a task): softmax cross-entropy of
each example's positive against catalog negatives shared by the batch.

Why per-example with catalog negatives: TFRS's in-batch softmax scores each query against the
*other* examples' positives, so one user's data would enter everyone's loss. Here negatives are
drawn uniformly from the public catalog (a distribution that does not depend on private data),
shared across the batch, accidental hits (negative == positive) masked, and the loss is one
number per example: [own positive, shared negatives]. Uniform sampling needs no log-Q
correction. Each example's loss then depends on that example alone, which is what any
per-example or per-user gradient bound needs.
"""
from typing import Optional

import tensorflow as tf

TEMPERATURE = 0.1  # cosine similarities / temperature = logits
_MASKED_LOGIT = -1e9


class CatalogNegativesRetrieval:
    """[batch] losses from cosine scores: positive [batch], negative [batch, m], the labels'
    and negatives' item indices, and optionally each item index's log popularity (added to the
    logits: a constant that changes which direction each gradient takes, not whose data it
    depends on)."""

    def __init__(self, num_negatives: int, num_items: int, first_item: int):
        self.num_negatives, self.num_items, self.first_item = num_negatives, num_items, first_item

    def sample_negatives(self) -> tf.Tensor:
        """Uniform over catalog items (first_item..): independent of any private data."""
        return tf.random.uniform([self.num_negatives], self.first_item, self.num_items,
                                 dtype=tf.int64)

    def __call__(self, positive_scores, negative_scores, labels, negatives,
                 log_popularity: Optional[tf.Variable] = None) -> tf.Tensor:
        positive_logits = positive_scores / TEMPERATURE
        negative_logits = negative_scores / TEMPERATURE
        if log_popularity is not None:
            positive_logits += tf.gather(log_popularity, labels)
            negative_logits += tf.gather(log_popularity, negatives)[tf.newaxis, :]
        accidental_hit = tf.equal(labels[:, tf.newaxis], negatives[tf.newaxis, :])
        negative = tf.where(accidental_hit, _MASKED_LOGIT, negative_logits)
        logits = tf.concat([positive_logits[:, tf.newaxis], negative], axis=1)
        return tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]
