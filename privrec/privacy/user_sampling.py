"""Batches for user-level DP-SGD: Poisson sampling of users, at most k examples per user.

The privacy unit is the user. Each step includes every user independently with probability
q = users_per_step / number of users (Poisson sampling, which is what the accountant assumes,
so the sampling assumption in the privacy report is the one training actually used), and takes
at most `max_examples_per_user` of that user's examples, drawn at random: uniformly, or with
`row_weights` (`weight_rows`, e.g. rare items first) when the run sets them. Both draws come from
OS entropy (privrec.randomness): amplification by subsampling needs a sample that whoever has
the code cannot predict, so the sampler takes no seed. A batch is
[user slots, k, ...] with an example mask; slots are padded to a multiple of PAD_USERS (fewer
retraces, never an empty batch) and padding carries mask 0, so it adds nothing to any gradient.
"""
import math
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from privrec import randomness
EXAMPLE_MASK = "example_mask"
# The feature that names each example's user (the pseudonymised user id): examples are grouped
# by it. The model never sees it.
USER_KEY = "user_key"
PAD_USERS = 8


def read_examples(dataset: tf.data.Dataset) -> Dict[str, np.ndarray]:
    """Every batch of a finite dataset of transformed examples, concatenated per feature."""
    parts: Dict[str, List[np.ndarray]] = {}
    for batch in dataset.as_numpy_iterator():
        for name, values in batch.items():
            parts.setdefault(name, []).append(np.asarray(values))
    if not parts:
        raise ValueError("the training split holds no examples")
    return {name: np.concatenate(values) for name, values in parts.items()}


class UserSampler:
    """Groups examples by user and yields Poisson-sampled user batches."""

    def __init__(self, examples: Dict[str, np.ndarray], users_per_step: float,
                 max_examples_per_user: int,
                 count_users: Optional[Callable[[int], int]] = None):
        if USER_KEY not in examples:
            raise ValueError(
                f"the transformed examples have no '{USER_KEY}': user-level DP-SGD "
                "groups examples by the pseudonymised user_id, so the masking policy must "
                "pseudonymise user_id (role direct_identifier, action pseudonymize), not drop it")
        if max_examples_per_user < 1 or not users_per_step > 0:
            raise ValueError("max_examples_per_user must be >= 1 and users_per_step > 0, got "
                             f"{max_examples_per_user} and {users_per_step}")
        keys = np.asarray(examples[USER_KEY]).reshape(-1)
        order = np.argsort(keys, kind="stable")
        _, starts = np.unique(keys[order], return_index=True)
        self.rows_of_user = np.split(order, starts[1:])
        self.num_users = len(self.rows_of_user)
        self.num_examples = len(keys)
        self.max_examples_per_user = max_examples_per_user
        # q from a DP (or public) count of users when `count_users` (exact -> released count)
        # is given: q is released with the model, and users_per_step / exact count would spell
        # out the exact count.
        self.users_counted = count_users(self.num_users) if count_users else self.num_users
        self.sampling_rate = min(1.0, users_per_step / self.users_counted)
        # The model's inputs (arrays, or anything indexed like one: query_vectors.VectorRows);
        # the user key only groups rows.
        self.examples = {name: values for name, values in examples.items()
                         if name != USER_KEY}
        # Per example, the weight of drawing it among its user's examples when the user has
        # more than k (weight_rows); None: uniform.
        self.row_weights: Optional[np.ndarray] = None

    def weight_rows(self, row_weights: np.ndarray) -> None:
        """Draws a sampled user's k examples with probability proportional to `row_weights`
        (one per example, > 0) instead of uniformly. Privacy: each weight must be a function of
        that example alone and of released DP statistics (e.g. its item's DP count), so a
        user's draw still depends on their own data and on what is already accounted for,
        never on another user's rows."""
        row_weights = np.asarray(row_weights, np.float64).reshape(-1)
        if row_weights.shape != (self.num_examples,) or not np.all(row_weights > 0):
            raise ValueError(f"row_weights must be {self.num_examples} positive weights, one "
                             f"per example; got shape {row_weights.shape}")
        self.row_weights = row_weights

    @property
    def expected_users_per_step(self) -> float:
        """q × the counted users: the divisor of each step's noised sum (released)."""
        return self.sampling_rate * self.users_counted

    def user_items(self, label: str) -> Tuple[np.ndarray, np.ndarray]:
        """(user index, the `label` feature) of every example: who interacted with what."""
        labels = np.asarray(self.examples[label]).reshape(-1)
        users = np.repeat(np.arange(self.num_users), [len(rows) for rows in self.rows_of_user])
        return users, labels[np.concatenate(self.rows_of_user)]

    def batches(self) -> Iterator[Dict[str, np.ndarray]]:
        rng = randomness.numpy_generator(stream=3)
        k = self.max_examples_per_user
        while True:
            chosen = np.flatnonzero(rng.random(self.num_users) < self.sampling_rate)
            slots = max(1, math.ceil(len(chosen) / PAD_USERS)) * PAD_USERS
            rows = np.zeros([slots, k], np.int64)
            mask = np.zeros([slots, k], np.float32)
            for slot, user in enumerate(chosen):
                own = self.rows_of_user[user]
                if len(own) > k:
                    p = None
                    if self.row_weights is not None:  # rare items first: weighted draw
                        p = self.row_weights[own] / self.row_weights[own].sum()
                    own = rng.choice(own, k, replace=False, p=p)
                rows[slot, :len(own)] = own
                mask[slot, :len(own)] = 1.0
            batch = {name: values[rows] for name, values in self.examples.items()}
            batch[EXAMPLE_MASK] = mask
            yield batch

    def dataset(self) -> tf.data.Dataset:
        k = self.max_examples_per_user
        signature = {name: tf.TensorSpec([None, k] + list(values.shape[1:]),
                                         tf.as_dtype(values.dtype))
                     for name, values in self.examples.items()}
        signature[EXAMPLE_MASK] = tf.TensorSpec([None, k], tf.float32)
        return tf.data.Dataset.from_generator(self.batches, output_signature=signature) \
            .prefetch(2)
