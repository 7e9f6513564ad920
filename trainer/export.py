"""The exported SavedModel: raw request features in, top-k catalog items out.

`serving_default` takes the raw request (user_id, query, recent_item_ids), runs the transform
graph (which scrubs the query with the masking ops and tokenises it), the query tower and a
TFRS brute-force index over the whole catalog; it returns the top-k item ids, scores and titles
and the masked query (the same scrub ops on the same text: what the model saw). `eval` takes serialized masked tf.Examples and
returns per example the true item's rank over the whole catalog, hits at each K and the model's
recorded ε for the Evaluator (trainer/retrieval_metrics.py, trainer/privacy_metric.py). Only core TF and old TF Text ops are used.

The user id is accepted for TF Serving API compatibility but does not reach the model: there is
no per-user embedding by design (see trainer/model.py); the request's recent items are the user.
"""
import json
import os
from typing import Dict

import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_transform as tft
from tf_keras.src.saving.legacy.saved_model import utils as keras_saved_model_utils

from privrec import contract, text_scrubber
# The model version directory's privacy report: the contract's (its readers need not import
# the trainer); trainer.export writes it and reads it back.
from privrec.contract import PRIVACY_FILE, read_privacy_report  # noqa: F401
from privrec.data import schema
from trainer import catalog as catalog_lib, features
from trainer.model import TwoTowerModel
from trainer.privacy_metric import EPSILON_KEY
from trainer.retrieval_metrics import CATALOG_SIZE_KEY, RANK_KEY, TOP_ITEMS_KEY

TRAINING_FILE = "training.json"
LOSS_KEY = "true_item_loss"  # eval signature: full-catalog softmax loss of the true item
KERAS_FILE = os.path.join("keras", "two_tower.keras")  # inside a model version directory


class ExportModule(tf.Module):
    def __init__(self, model: TwoTowerModel, tft_output: tft.TFTransformOutput,
                 catalog: catalog_lib.Catalog, config: Dict, epsilon: float):
        super().__init__()
        self.epsilon = tf.constant(epsilon, tf.float32)
        self.model = model
        self.tft_layer = tft_output.transform_features_layer()
        self.raw_spec = tft_output.raw_feature_spec()
        self.top_k = config["top_k"]
        self.eval_ks = sorted(config["eval_ks"])
        indices = tf.range(catalog_lib.FIRST_ITEM_INDEX, catalog.num_indices, dtype=tf.int64)
        self.candidates = model.scoring_candidates(indices)  # [items, dim], catalog order
        self.index = tfrs.layers.factorized_top_k.BruteForce(k=self.top_k)
        self.index.index(self.candidates, tf.constant(catalog.item_ids))
        self.titles = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(catalog.item_ids), tf.constant(catalog.titles)), default_value="")
        self.catalog = catalog  # written to assets.extra/ by export()

    def _as_raw(self, name: str, values: tf.Tensor) -> tf.Tensor:
        """Shapes a [batch] tensor like the raw feature spec expects ([batch] or [batch, 1])."""
        shape = self.raw_spec[name].shape
        return tf.reshape(values, [-1, 1]) if len(shape) == 1 else tf.reshape(values, [-1])

    def query_embedding(self, query: tf.Tensor, recent_item_ids: tf.Tensor) -> tf.Tensor:
        transformed = self.tft_layer({
            schema.QUERY: self._as_raw(schema.QUERY, query),
            schema.RECENT_ITEM_IDS: self._as_raw(schema.RECENT_ITEM_IDS, recent_item_ids)})
        return self.model.scoring_query(transformed)

    # No AutoGraph: no tensor-dependent Python control flow here (see trainer/model.py).
    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="recent_item_ids")])
    def serve(self, user_id, query, recent_item_ids):
        del user_id  # accepted for API compatibility; no per-user state by design
        scores, item_ids = self.index(self.query_embedding(query, recent_item_ids), k=self.top_k)
        return {"item_ids": item_ids, "scores": scores,
                contract.TITLES_KEY: self.titles.lookup(item_ids),
                contract.MASKED_QUERY_KEY: text_scrubber.scrub_text(query)}

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def evaluate(self, examples):
        """Per example: the true item's rank among all catalog items (1 = first; 0 when it is
        not in the catalog), its softmax loss over the whole catalog (0 when unknown; the
        membership inference audit's input), `hit_at_{k}` for each eval k, the catalog positions
        of its served top-k with the catalog size (coverage), and the model's ε (privacy gate)."""
        names = (schema.QUERY, schema.RECENT_ITEM_IDS, schema.ITEM_ID)
        raw = tf.io.parse_example(examples, {n: self.raw_spec[n] for n in names})
        transformed = self.tft_layer({n: self._as_raw(n, tf.reshape(v, [-1]))
                                      for n, v in raw.items()})
        scores = tf.matmul(self.model.scoring_query(transformed), self.candidates,
                           transpose_b=True)
        position = tf.reshape(transformed[features.LABEL], [-1]) - catalog_lib.FIRST_ITEM_INDEX
        known = position >= 0  # unknown items map to index 1, padding 0
        true_score = tf.gather(scores, tf.maximum(position, 0), batch_dims=1)
        rank = 1 + tf.reduce_sum(tf.cast(scores > true_score[:, tf.newaxis], tf.int64), axis=1)
        rank = tf.where(known, rank, tf.zeros_like(rank))
        loss = tf.reduce_logsumexp(scores, axis=1) - true_score
        outputs = {RANK_KEY: tf.cast(rank[:, tf.newaxis], tf.float32),
                   LOSS_KEY: tf.where(known, loss, tf.zeros_like(loss))[:, tf.newaxis]}
        for k in self.eval_ks:
            hit = tf.logical_and(rank > 0, rank <= k)
            outputs[f"hit_at_{k}"] = tf.cast(hit[:, tf.newaxis], tf.float32)
        batch = tf.shape(rank)[0]
        outputs[TOP_ITEMS_KEY] = tf.math.top_k(scores, k=self.top_k).indices
        outputs[CATALOG_SIZE_KEY] = tf.fill([batch, 1], tf.shape(scores)[1])
        outputs[EPSILON_KEY] = tf.fill([batch, 1], self.epsilon)
        return outputs


def export(module: ExportModule, directory: str, privacy_report: Dict, training: Dict) -> None:
    """Writes the SavedModel with both signatures, the privacy report and the public catalog
    (item ids and titles, for the try-it page) in assets.extra/, the Keras
    model (save_keras), and the training summary (eval loss before/after, warm start) next to it in the Model artifact:
    losses are non-DP aggregates of private data, so they stay in the pipeline root and are
    not pushed."""
    # Only the two signatures are served: Keras' per-layer call traces (its own SavedModel
    # format, ~25 s of tracing MiniLM) are skipped, as `model.save(save_traces=False)` does;
    # the Keras model travels as its own file (save_keras).
    with keras_saved_model_utils.keras_option_scope(save_traces=False):
        tf.saved_model.save(module, directory, signatures={
            contract.SERVING_SIGNATURE: module.serve.get_concrete_function(),
            contract.EVAL_SIGNATURE: module.evaluate.get_concrete_function()})
    extra = os.path.join(directory, "assets.extra")
    tf.io.gfile.makedirs(extra)
    save_keras(module.model, directory)
    with tf.io.gfile.GFile(os.path.join(extra, PRIVACY_FILE), "w") as f:
        json.dump(privacy_report, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(extra, contract.CATALOG_FILE), "w") as f:
        json.dump([{"item_id": i, "title": t} for i, t in
                   zip(module.catalog.item_ids, module.catalog.titles)], f, ensure_ascii=False)
    with tf.io.gfile.GFile(training_summary_path(directory), "w") as f:
        json.dump(training, f, indent=2)


def save_keras(model: TwoTowerModel, serving_model_dir: str) -> str:
    """Saves the Keras two-tower model (both towers, uncompiled: the optimizer is chosen
    anew by whoever continues training) as <serving_model_dir>/keras/two_tower.keras. It travels
    with the pushed version; TF Serving ignores the extra directory."""
    uncompiled = TwoTowerModel.from_config(model.get_config())
    uncompiled.set_weights(model.get_weights())
    uncompiled.built = True  # the towers built their variables; Keras cannot see that alone
    path = os.path.join(serving_model_dir, KERAS_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    uncompiled.save(path)
    return path


def load_keras(model_dir: str) -> TwoTowerModel:
    """The Keras model of a model version directory (pushed or in a Model artifact)."""
    path = os.path.join(model_dir, KERAS_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: {model_dir} is not a privrec model version "
                                "directory (<serving root>/<model name>/<version>) or predates "
                                "the Keras export")
    return tf.keras.models.load_model(path)


def check_same_catalog(model: TwoTowerModel, catalog: catalog_lib.Catalog,
                       model_dir: str) -> None:
    """Raises ValueError unless `model` was trained on `catalog` (its item index is fixed)."""
    if not model.catalog_matches(catalog.category_index(), catalog.title_token_ids(
            model.config["title_max_tokens"])):
        raise ValueError(f"the catalog given is not the one the model in {model_dir} was "
                         "trained on (items, categories or titles differ): fine-tuning cannot "
                         "change the item index; train a new model on this catalog instead")


def training_summary_path(serving_model_dir: str) -> str:
    """<Model artifact>/training.json, beside Format-Serving (which the Pusher copies)."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), TRAINING_FILE)


def read_training_summary(serving_model_dir: str) -> Dict:
    with tf.io.gfile.GFile(training_summary_path(serving_model_dir)) as f:
        return json.load(f)
