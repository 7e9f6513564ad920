"""A small two-tower model and synthetic transformed examples, for tests of the DP training step
(tests/privacy/test_user_level_dp.py, tests/trainer/test_devices.py, tests/support/mirrored_cpu.py)."""
import numpy as np

from pipeline import configs
from privrec import privacy
from privrec.privacy.dp_training import DPTrainer
from trainer import features
from trainer.model import TwoTowerModel

NUM_ITEMS, VOCAB, TOKENS = 30, 3000, 6  # token ids within MiniLM's vocabulary


def examples(rows_per_user, seed=0):
    """Transformed examples: user u has rows_per_user[u] rows with random tokens and items."""
    rng = np.random.default_rng(seed)
    keys = np.array([f"u{u}".encode() for u, n in enumerate(rows_per_user) for _ in range(n)],
                    dtype=object)
    n = len(keys)
    return {features.USER_KEY: keys,
            features.QUERY_TOKENS: rng.integers(5, VOCAB, [n, TOKENS]),
            features.HISTORY: rng.integers(0, NUM_ITEMS, [n, 3]),
            features.LABEL: rng.integers(2, NUM_ITEMS, [n])}


def model(**config):
    """A TwoTowerModel over NUM_ITEMS random items with short titles (`config`: TrainerConfig
    fields to change)."""
    config = {**vars(configs.TrainerConfig()), "query_max_tokens": TOKENS,
              "title_max_tokens": TOKENS, "negatives_per_step": 8, **config}
    rng = np.random.default_rng(1)
    return TwoTowerModel(config, num_items=NUM_ITEMS,
                         item_category=rng.integers(0, 4, NUM_ITEMS),
                         item_title_tokens=rng.integers(5, VOCAB, [NUM_ITEMS, TOKENS]))


def dp_trainer(model, mechanism=None) -> DPTrainer:
    """`model` wrapped by the DP trainer, with `mechanism` (default: clip 1, no noise)."""
    return DPTrainer(model, mechanism or privacy.UserLevelDP(1.0, 0.0, 1.0))


def user_gradients(model, batch, negatives):
    """Each user's gradient and loss as the DP trainer computes them, before clipping."""
    return dp_trainer(model).user_gradients(batch, negatives)
