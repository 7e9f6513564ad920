"""DP releases made outside the training steps: the popularity prior and the count of users."""
import numpy as np
import tensorflow as tf

from privrec.privacy.noise import EntropyGaussianSumQuery, release_noise_source


def popularity_prior(users: np.ndarray, items: np.ndarray, num_indices: int,
                     noise_multiplier: float, *, first_item: int) -> np.ndarray:
    """[num_indices] log(1 + DP item count): the popularity prior the model adds to its logits
    (TrainerConfig.popularity_prior_noise), from interactions: each one's user (any key) and
    item index.

    A Gaussian mechanism over users (TF-Privacy's GaussianSumQuery, clip 1): each user's
    vector of item counts is scaled to L2 norm 1, so adding or removing one user moves the sum
    by at most 1, and each item's sum gets noise of stddev `noise_multiplier`. Its privacy cost
    composes with DP-SGD's (`account`: dp_accounting.GaussianDpEvent). Negative noisy counts
    are floored at 0; log(1 + ·) is post-processing. Indices below `first_item` (padding,
    unknown) get 0."""
    if not noise_multiplier > 0:
        raise ValueError("popularity_prior_noise must be > 0 (the prior is computed from "
                         f"private interactions), got {noise_multiplier}")
    users, items = np.asarray(users).reshape(-1), np.asarray(items, np.int64).reshape(-1)
    if len(users) != len(items):
        raise ValueError(f"popularity_prior needs one user per interaction: {len(users)} users "
                         f"for {len(items)} items")
    # One pass over the (user, item) pairs, O(interactions): each pair's count, each user's
    # norm, then the counts scaled by their user's 1 / max(norm, 1) summed per item.
    user = np.unique(users, return_inverse=True)[1].reshape(-1).astype(np.int64)
    pairs, counts = np.unique(user * num_indices + items, return_counts=True)
    pair_user, pair_item = np.divmod(pairs, num_indices)
    norms = np.sqrt(np.bincount(pair_user, weights=np.square(counts, dtype=np.float64)))
    total = np.bincount(pair_item, weights=counts / np.maximum(norms, 1.0)[pair_user],
                        minlength=num_indices)
    query = EntropyGaussianSumQuery(1.0, noise_multiplier, release_noise_source())
    noised = query.get_noised_result(tf.constant(total, tf.float32),
                                     query.initial_global_state())[0].numpy()
    prior = np.log1p(np.maximum(noised, 0.0)).astype(np.float32)
    prior[:first_item] = 0.0
    return prior


def dp_user_count(num_users: int, noise_multiplier: float) -> int:
    """The number of users as training may use and release it: a Gaussian mechanism (one user
    moves the count by 1; noise of stddev `noise_multiplier`, from OS entropy), rounded, at
    least 1. The sampling rate, the steps, δ and every released figure come from this count,
    never from the exact one; its ε composes with DP-SGD's (`accounting.dp_sgd_event`)."""
    if not noise_multiplier > 0:
        raise ValueError("TrainerConfig.user_count_noise must be > 0 (the number of users is "
                         f"a private statistic), got {noise_multiplier}")
    noise = float(release_noise_source().normal([], stddev=noise_multiplier))
    return max(1, int(round(num_users + noise)))
