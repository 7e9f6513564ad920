"""The two-tower retrieval model (TFRS): a query tower (query text through a pretrained MiniLM,
trainer/text_encoder.py, plus the recent items), a candidate tower (item id, category, title) and
the retrieval task (trainer/retrieval_task.py: softmax over catalog negatives shared by the batch,
one loss per example). The model knows nothing of DP: privrec trains it only inside
privrec/privacy/dp_training.py's DPTrainer (user-level DP-SGD), which uses the narrow interface
below: `sample_negatives`, `prepare_batch`, `per_example_loss` and `layer_cotangents` (the
trainable layers' inputs and cotangents ghost clipping needs, trainer/layer_cotangents.py).

There is no user-id embedding: it would memorise individuals and cannot serve new users. The
user is represented by the query text and the recent items carried in each request.

Both classes are Keras-serialisable (registered as `privrec>…`): the Trainer saves the model as
`<model version>/keras/two_tower.keras` (trainer/export.py), which `tf.keras.models.load_model`
reads after `import privrec`; `privrec finetune` continues training it with DP.
"""
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from trainer import catalog as catalog_lib, features, layer_cotangents, value_gather
from trainer.query_vectors import QUERY_VECTOR
from trainer.retrieval_task import TEMPERATURE, CatalogNegativesRetrieval
from trainer.text_encoder import TextEncoder


# The towers' Python control flow is on Python values only, so they need no
# AutoGraph. Left on, AutoGraph transpiles tf_keras itself (its "keras" no-convert rule does not
# match the tf_keras package): ~20 s of every Trainer run.
_no_autograph = tf.autograph.experimental.do_not_convert


def _masked_mean(sequence: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    mask = tf.cast(mask, sequence.dtype)[..., tf.newaxis]
    return tf.reduce_sum(sequence * mask, axis=-2) / tf.maximum(tf.reduce_sum(mask, axis=-2), 1.0)


def _mean_over_replicas(total: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """Σ total / Σ count over the strategy's replicas (on one device: total / count)."""
    total, count = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, [total, count])
    return total / tf.maximum(count, 1.0)


# The hyperparameters that shape the model (the rest of TrainerConfig does not), and what a
# model saved before a key existed was built with.
ARCHITECTURE_KEYS = ("embedding_dim", "negatives_per_step", "query_max_tokens",
                     "title_max_tokens", "text_trainable_layers", "popularity_prior_noise")
ARCHITECTURE_DEFAULTS = {"text_trainable_layers": 0, "popularity_prior_noise": None}
# The frozen MiniLM layers' output for the query and its token mask, when computed beforehand
# (text_trainable_layers > 0: the top layers then run inside each user's gradient).
QUERY_HIDDEN, QUERY_TOKEN_MASK = "query_text_hidden", "query_text_token_mask"


@tf.keras.utils.register_keras_serializable(package="privrec")
class TwoTowerModel(tfrs.Model):
    """Query tower: query text (MiniLM) + recent items. Candidate tower: item id, category,
    title (MiniLM).

    `item_category` [num_items], `item_title_tokens` [num_items, title_max_tokens] and their
    MiniLM embeddings `item_title_vectors` are the public catalog's features per item index;
    they are (non-trainable) weights of the model, so a saved model carries the catalog it was
    trained on. The encoder is frozen, so each title is embedded once, here.
    """

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
        self.num_categories = num_categories or int(np.max(item_category)) + 1
        self.negatives_per_step = config["negatives_per_step"]
        self.task = CatalogNegativesRetrieval(self.negatives_per_step, num_items,
                                              catalog_lib.FIRST_ITEM_INDEX)
        # train_step and test_step all-reduce their loss: each replica returns the global one.
        self.distribute_reduction_method = "first"
        self.text_encoder = TextEncoder(self.config["text_trainable_layers"])
        if item_title_vectors is None:
            item_title_vectors = self.text_encoder.encode_in_batches(np.asarray(item_title_tokens))
        self.item_title_vectors = self.add_weight(
            "item_title_vectors", shape=np.shape(item_title_vectors), dtype=tf.float32,
            trainable=False, initializer=tf.keras.initializers.Constant(item_title_vectors))
        self.item_embedding = value_gather.Embedding(num_items, dim)
        self.category_embedding = value_gather.Embedding(self.num_categories, 8)
        self.item_category = self.add_weight(
            "item_category", shape=np.shape(item_category), dtype=tf.int64, trainable=False,
            initializer=tf.keras.initializers.Constant(np.asarray(item_category)))
        self.item_title_tokens = self.add_weight(
            "item_title_tokens", shape=np.shape(item_title_tokens), dtype=tf.int64,
            trainable=False,
            initializer=tf.keras.initializers.Constant(np.asarray(item_title_tokens)))
        # log(1 + DP count) per item index, added to the logits (set_popularity_prior);
        # all 0 until the Trainer sets it. Only in models configured with a prior.
        self.item_log_popularity = None
        if self.config["popularity_prior_noise"] is not None:
            self.item_log_popularity = self.add_weight(
                "item_log_popularity", shape=[num_items], dtype=tf.float32, trainable=False,
                initializer="zeros")
        # Output layers are float32: embeddings, logits and the loss stay float32.
        self.query_mlp = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                              tf.keras.layers.Dense(dim, dtype="float32")])
        self.candidate_mlp = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                                  tf.keras.layers.Dense(dim, dtype="float32")])
        self.build_towers()

    def build_towers(self) -> None:
        """Creates every variable now (one item through both towers), so a saved model's
        weights can be loaded into a fresh instance."""
        item = tf.constant([catalog_lib.FIRST_ITEM_INDEX], tf.int64)
        self.query_embedding({
            features.HISTORY: tf.zeros([1, 1], tf.int64),
            features.QUERY_TOKENS: tf.gather(self.item_title_tokens, item)})
        self.candidate_embedding(item)

    def get_config(self):
        return {"config": self.config, "num_items": self.num_items,
                "num_categories": self.num_categories,
                "item_category": {"shape": self.item_category.shape.as_list()},
                "item_title_tokens": {"shape": self.item_title_tokens.shape.as_list()},
                "item_title_vectors": {"shape": self.item_title_vectors.shape.as_list()}}

    @classmethod
    def from_config(cls, config):
        """An instance of the saved shape; the catalog features come with the weights."""
        config = dict(config)
        for name in ("item_category", "item_title_tokens"):
            config[name] = np.zeros(config[name]["shape"], np.int64)
        config["item_title_vectors"] = np.zeros(config["item_title_vectors"]["shape"], np.float32)
        return cls(**config)

    def get_build_config(self):
        return {"built_by": "build_towers"}

    def build_from_config(self, config):
        pass  # __init__ already built every variable

    def catalog_matches(self, item_category: np.ndarray, item_title_tokens: np.ndarray) -> bool:
        """Whether this model was trained on this catalog (same items, categories, titles)."""
        return (self.item_category.shape == np.shape(item_category)
                and self.item_title_tokens.shape == np.shape(item_title_tokens)
                and bool(np.array_equal(self.item_category.numpy(), item_category))
                and bool(np.array_equal(self.item_title_tokens.numpy(), item_title_tokens)))

    def set_popularity_prior(self, log_popularity: np.ndarray) -> None:
        """Sets the [num_items] log popularity added to the logits (a released, DP prior:
        trainer/training.py)."""
        self.item_log_popularity.assign(log_popularity)

    @_no_autograph
    def query_embedding(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
        history = inputs[features.HISTORY]
        history_vec = _masked_mean(self.item_embedding(history), tf.not_equal(history, 0))
        if QUERY_VECTOR in inputs:
            text_vec = inputs[QUERY_VECTOR]
        elif QUERY_HIDDEN in inputs:
            text_vec = self.text_encoder.upper(inputs[QUERY_HIDDEN], inputs[QUERY_TOKEN_MASK])
        else:
            text_vec = self.text_encoder(inputs[features.QUERY_TOKENS])
        text_vec = tf.cast(text_vec, history_vec.dtype)  # both the layers' compute dtype
        return tf.math.l2_normalize(self.query_mlp(tf.concat([text_vec, history_vec], -1)), -1)

    @_no_autograph
    def candidate_embedding(self, item_idx: tf.Tensor) -> tf.Tensor:
        category_vec = self.category_embedding(value_gather.gather_value(self.item_category,
                                                                         item_idx))
        text_vec = tf.cast(value_gather.gather_value(self.item_title_vectors, item_idx),
                           category_vec.dtype)
        joint = tf.concat([self.item_embedding(item_idx), category_vec, text_vec], -1)
        return tf.math.l2_normalize(self.candidate_mlp(joint), -1)

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
        any per-user gradient: query vectors (frozen MiniLM), or the hidden states its trained
        top layers take. Unchanged when already done (trainer/query_vectors.py)."""
        if QUERY_VECTOR in users or QUERY_HIDDEN in users:
            return users
        tokens = users[features.QUERY_TOKENS]
        hidden, mask = self.text_encoder.lower(tf.reshape(tokens, [-1, tf.shape(tokens)[-1]]))
        slots = tf.shape(tokens)[:2]

        def per_slot(t):  # [slots * k, ...] -> [slots, k, ...]
            return tf.reshape(t, tf.concat([slots, tf.shape(t)[1:]], 0))

        if self.text_encoder.trainable_layers:
            return {**users, QUERY_HIDDEN: per_slot(hidden), QUERY_TOKEN_MASK: per_slot(mask)}
        vectors = self.text_encoder.upper(hidden, mask)
        return {**users, QUERY_VECTOR: tf.reshape(
            vectors, tf.concat([slots, [self.text_encoder.dim]], 0))}

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
        losses = self.per_example_loss(inputs, self.sample_negatives())
        return {"loss": _mean_over_replicas(tf.reduce_sum(losses),
                                            tf.cast(tf.size(losses), tf.float32))}
