"""The two-tower retrieval model (TFRS): a query tower (trainer/query_tower.py: query text through
a pretrained MiniLM, trainer/text_encoder.py, plus the recent items), a candidate tower
(trainer/candidate_tower.py: item id, category, title) and the retrieval task
(trainer/retrieval_task.py: softmax over catalog negatives shared by the batch, one loss per
example), composed as TFRS's tutorials compose them. The model knows nothing of DP: privrec
trains it only inside privrec/privacy/dp_training.py's DPTrainer (user-level DP-SGD), which uses
the narrow interface below: `sample_negatives`, `prepare_batch`, `per_example_loss` and
`layer_cotangents` (the trainable layers' inputs and cotangents ghost clipping needs,
trainer/layer_cotangents.py).

There is no user-id embedding: it would memorise individuals and cannot serve new users. The
user is represented by the query text and the recent items carried in each request.

The model and its towers are Keras-serialisable (registered as `privrec>…`): the Trainer saves
the model as `<model version>/keras/two_tower.keras` (trainer/export.py), which
`tf.keras.models.load_model` reads after `import privrec`; `privrec finetune` continues training
it with DP.
"""
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from trainer import (candidate_tower, catalog as catalog_lib, features, layer_cotangents,
                     title_projection)
from trainer.candidate_tower import CandidateTower
from trainer.query_tower import QueryTower
from trainer.retrieval_task import TEMPERATURE, CatalogNegativesRetrieval
from trainer.text_encoder import TextEncoder
from trainer.title_lookup import TitleLookup


# The model's Python control flow is on Python values only, so it needs no AutoGraph. Left on,
# AutoGraph transpiles tf_keras itself (its "keras" no-convert rule does not match the tf_keras
# package): ~20 s of every Trainer run.
_no_autograph = tf.autograph.experimental.do_not_convert


def _mean_over_replicas(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """Σ total / Σ count over the strategy's replicas (on one device: total / count)."""
    total, count = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, [total, count])
    return total / tf.maximum(count, 1.0)


# The hyperparameters that shape the model (the rest of TrainerConfig does not), and what a
# model saved before a key existed was built with.
ARCHITECTURE_KEYS = ("embedding_dim", "negatives_per_step", "query_max_tokens",
                     "title_max_tokens", "text_trainable_layers", "popularity_prior_noise",
                     "item_id_embeddings", "item_id_min_count", "title_dims")
ARCHITECTURE_DEFAULTS = {"text_trainable_layers": 0, "popularity_prior_noise": None,
                         "item_id_embeddings": True, "item_id_min_count": None,
                         "title_dims": None}


@tf.keras.utils.register_keras_serializable(package="privrec")
class TwoTowerModel(tfrs.Model):
    """`query_tower` (query text + recent items), `candidate_tower` (item id, category, title;
    it holds the public catalog's features per item index) and `task`. The towers share the
    item-id embedding (the candidate tower's): an item in a user's history is the item."""

    def __init__(self, config: Dict, num_items: int, item_category: np.ndarray,
                 item_title_tokens: np.ndarray, num_categories: Optional[int] = None,
                 item_title_vectors: Optional[np.ndarray] = None, **kwargs):
        # The model itself is float32 whatever the global policy: its layers may compute in
        # mixed precision (trainer/devices.py), its embeddings, logits and loss do not.
        super().__init__(**{**kwargs, "dtype": "float32"})
        self.config = {k: config[k] if k in config else ARCHITECTURE_DEFAULTS[k]
                       for k in ARCHITECTURE_KEYS}
        dim = config["embedding_dim"]
        self.num_items = num_items
        self.negatives_per_step = config["negatives_per_step"]
        self.task = CatalogNegativesRetrieval(self.negatives_per_step, num_items,
                                              catalog_lib.FIRST_ITEM_INDEX)
        # train_step and test_step all-reduce their loss: each replica returns the global one.
        self.distribute_reduction_method = "first"
        # One MiniLM: the query tower's encoder, which also embeds the titles once, here.
        text_encoder = TextEncoder(self.config["text_trainable_layers"])
        if item_title_vectors is None:
            item_title_vectors = text_encoder.encode_in_batches(np.asarray(item_title_tokens))
        # With title_dims, titles and queries are projected onto the titles' principal
        # directions (trainer/title_projection.py); a saved model's vectors come projected.
        text_dims, projection = self.config["title_dims"], None
        if text_dims is not None and np.shape(item_title_vectors)[-1] == text_encoder.dim:
            projection = title_projection.principal_directions(
                np.asarray(item_title_vectors)[catalog_lib.FIRST_ITEM_INDEX:], text_dims)
            item_title_vectors = np.asarray(item_title_vectors, np.float32) @ projection
        self.candidate_tower = CandidateTower(num_items, dim, item_category, item_title_tokens,
                                              item_title_vectors, num_categories,
                                              self.config["item_id_embeddings"],
                                              self.config["item_id_min_count"] is not None)
        self.num_categories = self.candidate_tower.num_categories
        history_embedding = (self.candidate_tower.item_embedding
                             if self.config["item_id_embeddings"]
                             else TitleLookup(self.candidate_tower.item_title_vectors))
        self.query_tower = QueryTower(dim, history_embedding, text_encoder, text_dims)
        if projection is not None:
            self.query_tower.text_projection.assign(projection)
        # log(1 + DP count) per item index, added to the logits (set_popularity_prior);
        # all 0 until the Trainer sets it. Only in models configured with a prior.
        self.item_log_popularity = None
        if self.config["popularity_prior_noise"] is not None:
            self.item_log_popularity = self.add_weight(
                "item_log_popularity", shape=[num_items], dtype=tf.float32, trainable=False,
                initializer="zeros")

    def get_config(self):
        candidate_config = self.candidate_tower.get_config()
        return {"config": self.config, "num_items": self.num_items,
                "num_categories": self.num_categories,
                **{name: candidate_config[name] for name in candidate_tower.CATALOG_WEIGHTS}}

    @classmethod
    def from_config(cls, config):
        """An instance of the saved shape; the catalog features come with the weights."""
        return cls(**candidate_tower.with_catalog_placeholders(config))

    def get_build_config(self):
        return {"built_by": "__init__"}

    def build_from_config(self, config):
        pass  # the towers' __init__ already built every variable

    def catalog_matches(self, item_category: np.ndarray, item_title_tokens: np.ndarray) -> bool:
        """Whether this model was trained on this catalog (same items, categories, titles)."""
        return self.candidate_tower.catalog_matches(item_category, item_title_tokens)

    def set_popularity_prior(self, log_popularity: np.ndarray) -> None:
        """Sets the [num_items] log popularity added to the logits (a released, DP prior:
        trainer/training.py)."""
        self.item_log_popularity.assign(log_popularity)

    def query_embedding(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        return self.query_tower(inputs)

    def candidate_embedding(self, item_idx: tf.Tensor) -> tf.Tensor:
        return self.candidate_tower(item_idx)

    def scoring_query(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        """The query embedding that ranks with `scoring_candidates`: with a popularity prior,
        a trailing 1 (the prior's weight)."""
        query = self.query_embedding(inputs)
        if self.item_log_popularity is None:
            return query
        return tf.concat([query, tf.ones_like(query[:, :1])], -1)

    def scoring_candidates(self, item_idx: tf.Tensor) -> tf.Tensor:
        """Candidate embeddings whose dot product with `scoring_query` is the model's score:
        cosine similarity, plus TEMPERATURE × the item's log popularity with a prior (the
        training logit × TEMPERATURE, so the ranking is the one trained)."""
        candidates = self.candidate_embedding(item_idx)
        if self.item_log_popularity is None:
            return candidates
        prior = tf.gather(self.item_log_popularity, item_idx)[:, tf.newaxis]
        return tf.concat([candidates, TEMPERATURE * prior], -1)

    def sample_negatives(self) -> tf.Tensor:
        """The task's negatives: uniform over catalog items, independent of any private data."""
        return self.task.sample_negatives()

    @_no_autograph
    def per_example_loss(self, inputs: Dict[str, tf.Tensor], negatives: tf.Tensor) -> tf.Tensor:
        """[batch] softmax cross-entropy of each positive against the shared negatives."""
        labels = tf.reshape(inputs[features.LABEL], [-1])
        query = self.query_embedding(inputs)
        return self.task(
            tf.reduce_sum(query * self.candidate_embedding(labels), -1),
            tf.matmul(query, self.candidate_embedding(negatives), transpose_b=True),
            labels, negatives, self.item_log_popularity)

    def prepare_batch(self, users: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """A [slots, k] batch with the encoder's frozen part run once for every query, outside
        any per-user gradient (QueryTower.prepare_batch)."""
        return self.query_tower.prepare_batch(users)

    def layer_cotangents(self, users: Dict[str, tf.Tensor], negatives: tf.Tensor,
                         weights: tf.Tensor):
        """The trainable layers' inputs and cotangents in a [users, k] batch with per-row
        `weights`, and [users] weighted losses; None when not available
        (trainer/layer_cotangents.py)."""
        return layer_cotangents.layer_cotangents(self, users, negatives, weights)

    def train_step(self, data):
        raise ValueError("TwoTowerModel is trained only inside privrec's DP trainer "
                         "(privrec.privacy.dp_training.DPTrainer, built by trainer/training.py): "
                         "privrec never trains without the DP mechanism")

    @_no_autograph
    def test_step(self, inputs):
        """The evaluation loss: softmax over the whole catalog, not sampled negatives, so the
        same model on the same examples always gets the same loss and a loss before and after
        training (trainer/run.py) differ by what training did alone."""
        losses = self.per_example_loss(inputs, tf.range(
            catalog_lib.FIRST_ITEM_INDEX, self.num_items, dtype=tf.int64))
        return {"loss": _mean_over_replicas(tf.reduce_sum(losses),
                                            tf.cast(tf.size(losses), tf.float32))}
