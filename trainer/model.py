"""The two-tower retrieval model (TFRS) with a pretrained, frozen MiniLM text encoder
(keras-nlp BertBackbone, trainer/minilm.py), trained with user-level DP-SGD.

Why the loss is per-example and uses catalog negatives: DP-SGD clips each user's gradient,
which bounds one user's influence only if that user's loss depends on their data alone. TFRS's
default in-batch softmax scores each query against the *other* examples' positives, so one
user's data enters everyone's loss and the clipping bound no longer holds. Here each step
draws negatives uniformly from the public catalog (a distribution that does not depend on
private data), shares them across the batch, masks accidental hits (negative == positive) and
computes a softmax loss per example: [own positive, shared negatives]. Uniform sampling needs
no log-Q correction.

Why the unit is the user: one user contributes many examples (hundreds in MovieLens), so an
example-level ε says nothing about a person. `train_step` gets Poisson-sampled users with at
most k examples each (privrec/privacy/user_sampling.py), clips each user's gradient of their summed
loss and adds noise with TF-Privacy's Gaussian sum query (privrec/privacy/mechanism.py). With MiniLM
frozen the clipped sum comes from per-user gradient norms without per-user gradients
(trainer/ghost_clipping.py); with trained MiniLM layers from each user's gradient
(tf.vectorized_map over users: cost grows with users × k, not with users²). The optimizer then
applies an already private gradient.

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

from privrec import privacy
from privrec.privacy import user_sampling
from trainer import catalog as catalog_lib, features, ghost_clipping, minilm, value_gather
from trainer.query_vectors import QUERY_VECTOR

TEMPERATURE = 0.1  # cosine similarities / temperature = logits
_MASKED_LOGIT = -1e9


# The towers' and steps' Python control flow is on Python values only, so they need no
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
class TextEncoder(tf.keras.layers.Layer):
    """Pretrained MiniLM (trainer/minilm.py): WordPiece ids -> sentence embedding.
    Pretrained on public text. Frozen by default, so it learns nothing from private data; with
    `trainable_layers` = N > 0 its top N transformer layers are trained (under DP, like every
    trainable variable: they are in each user's clipped gradient). The word embeddings and
    lower layers stay frozen, so each step runs them once, outside the per-user gradients
    (`lower`), and only the top layers inside them (`upper`)."""

    def __init__(self, trainable_layers: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.backbone = minilm.backbone()
        if not 0 <= trainable_layers <= self.backbone.num_layers:
            raise ValueError(f"text_trainable_layers must be in 0..{self.backbone.num_layers} "
                             f"(MiniLM's transformer layers), got {trainable_layers}")
        self.trainable_layers = trainable_layers
        self.top = [minilm.transformer_layer(self.backbone, i) for i in range(
            self.backbone.num_layers - trainable_layers, self.backbone.num_layers)]
        self.backbone.trainable = bool(self.top)
        for layer in self.backbone.layers:
            layer.trainable = any(layer is top for top in self.top)
        # Frozen: the whole backbone is the lower part (its sequence output, as always).
        self._lower = (minilm.lower_layers(self.backbone, trainable_layers) if self.top
                       else lambda inputs: self.backbone(inputs)["sequence_output"])

    @property
    def dim(self) -> int:
        return self.backbone.hidden_dim

    # MiniLM's layers run without AutoGraph (see minilm._new_backbone).
    @_no_autograph
    def lower(self, token_ids):
        """[batch, tokens] ids -> (hidden states the top layers take, token mask); padding
        columns after the batch's longest query are dropped."""
        token_ids = minilm.trim_padding(token_ids)
        mask = tf.not_equal(token_ids, 0)
        hidden = self._lower({"token_ids": token_ids, "padding_mask": mask,
                              "segment_ids": tf.zeros_like(token_ids)})
        return hidden, mask

    @_no_autograph
    def upper(self, hidden, mask):
        """The trained top layers (none when frozen), then mean pooling."""
        for layer in self.top:
            hidden = layer(hidden, padding_mask=mask, training=False)
        return minilm.pool(hidden, mask)

    def call(self, token_ids):
        return self.upper(*self.lower(token_ids))

    def encode_in_batches(self, token_ids: np.ndarray, batch: int = 256) -> np.ndarray:
        return np.concatenate([
            tf.cast(self(tf.constant(token_ids[i:i + batch])), tf.float32).numpy()
            for i in range(0, len(token_ids), batch)])


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
        # mixed precision (trainer/devices.py), the loss and DP-SGD do not, and compile() does
        # not wrap the optimizer in a dynamic loss scale (which would skip steps depending on
        # the batch's gradients, outside the DP mechanism).
        super().__init__(**{**kwargs, "dtype": "float32"})
        self.config = {k: config[k] if k in config else ARCHITECTURE_DEFAULTS[k]
                       for k in ARCHITECTURE_KEYS}
        dim = config["embedding_dim"]
        self.num_items = num_items
        self.num_categories = num_categories or int(np.max(item_category)) + 1
        self.negatives_per_step = config["negatives_per_step"]
        self.dp: Optional[privacy.UserLevelDP] = None  # set by the Trainer before fit()
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
        # log(1 + DP count) per item index, added to the logits (privacy.popularity_prior);
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

    def release_popularity_prior(self, users: np.ndarray, items: np.ndarray,
                                 noise_multiplier: float) -> None:
        """Sets the DP popularity prior from interactions (each one's user and target item:
        privacy.popularity_prior); its ε is the caller's to account (privacy.account's
        popularity_noise_multiplier)."""
        self.item_log_popularity.assign(
            privacy.popularity_prior(users, items, self.num_items, noise_multiplier,
                                     first_item=catalog_lib.FIRST_ITEM_INDEX))

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
        """Uniform over catalog items (indices 2..): independent of any private data."""
        return tf.random.uniform([self.negatives_per_step], 2, self.num_items, dtype=tf.int64)

    def softmax_loss(self, positive_scores, negative_scores, labels, negatives) -> tf.Tensor:
        """[batch] softmax cross-entropy of each positive against the negatives, accidental
        hits masked, from cosine scores: positive [batch], negative [batch, m]. Logits are
        cosine / TEMPERATURE, plus the item's log popularity with a prior (a constant: it
        changes which direction each gradient takes, not whose data it depends on)."""
        positive_logits = positive_scores / TEMPERATURE
        negative_logits = negative_scores / TEMPERATURE
        if self.item_log_popularity is not None:
            positive_logits += tf.gather(self.item_log_popularity, labels)
            negative_logits += tf.gather(self.item_log_popularity, negatives)[tf.newaxis, :]
        accidental_hit = tf.equal(labels[:, tf.newaxis], negatives[tf.newaxis, :])
        negative = tf.where(accidental_hit, _MASKED_LOGIT, negative_logits)
        logits = tf.concat([positive_logits[:, tf.newaxis], negative], axis=1)
        return tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]

    @_no_autograph
    def per_example_loss(self, inputs: Dict[str, tf.Tensor], negatives: tf.Tensor) -> tf.Tensor:
        """[batch] softmax cross-entropy of each positive against the shared negatives."""
        labels = tf.reshape(inputs[features.LABEL], [-1])
        query = self.query_embedding(inputs)
        return self.softmax_loss(
            tf.reduce_sum(query * self.candidate_embedding(labels), -1),
            tf.matmul(query, self.candidate_embedding(negatives), transpose_b=True),
            labels, negatives)

    def compute_loss(self, inputs, training: bool = False) -> tf.Tensor:
        return tf.reduce_mean(self.per_example_loss(inputs, self.sample_negatives()))

    def _encode_queries(self, users: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The encoder's frozen part, run once for every query of the [slots, k] batch, outside
        the per-user gradients; its trained top layers (if any) run inside them."""
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

    def user_gradients(self, users: Dict[str, tf.Tensor], negatives: tf.Tensor):
        """[users, ...] gradient of each user's summed (masked) loss, per trainable variable,
        and [users] those losses."""
        variables = self.trainable_variables
        if QUERY_VECTOR not in users:  # else computed before training (trainer/query_vectors.py)
            users = self._encode_queries(users)

        def one_user(user):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self.per_example_loss(user, negatives)
                                     * user[user_sampling.EXAMPLE_MASK])
            gradients = tape.gradient(loss, variables,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return [tf.convert_to_tensor(g) for g in gradients], loss

        return tf.vectorized_map(one_user, users)

    def private_gradients(self, users: Dict[str, tf.Tensor], negatives: tf.Tensor):
        """The privatised mean gradient per trainable variable (privacy.UserLevelDP: under
        MirroredStrategy, of every replica's users, noised once) and the mean loss per real
        example over all replicas. Each user's clipped gradient comes from ghost clipping
        (trainer/ghost_clipping.py) when it covers the trainable variables, else from the
        per-user gradients (`user_gradients`)."""
        if QUERY_VECTOR not in users and not self.text_encoder.trainable_layers:
            users = self._encode_queries(users)
        if QUERY_VECTOR in users and ghost_clipping.applies(self):
            summed, losses = ghost_clipping.clipped_user_sum(self, users, negatives,
                                                             self.dp.clip_weights)
        else:
            gradients, losses = self.user_gradients(users, negatives)
            summed = self.dp.clip_and_sum(gradients)
        loss = _mean_over_replicas(tf.reduce_sum(losses),
                                   tf.reduce_sum(users[user_sampling.EXAMPLE_MASK]))
        return self.dp.noised_mean(summed), loss

    @_no_autograph
    def train_step(self, users):
        """One user-level DP-SGD step on a batch of [user slots, k] examples (a replica's
        slice of the slots under MirroredStrategy). Each replica draws its own negatives: they
        are public and uniform, and each user's loss still depends on their data alone."""
        if self.dp is None:
            raise ValueError("set model.dp (privacy.UserLevelDP) before training: privrec "
                             "never trains without the DP mechanism")
        gradients, loss = self.private_gradients(users, self.sample_negatives())
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables),
                                       skip_gradients_aggregation=True)
        return {"loss": loss}

    @_no_autograph
    def test_step(self, inputs):
        losses = self.per_example_loss(inputs, self.sample_negatives())
        return {"loss": _mean_over_replicas(tf.reduce_sum(losses),
                                            tf.cast(tf.size(losses), tf.float32))}
