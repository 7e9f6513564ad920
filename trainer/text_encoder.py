"""The query and title text encoder: pretrained MiniLM (keras-nlp BertBackbone,
trainer/minilm.py), frozen by default, optionally with its top layers trained."""
import numpy as np
import tensorflow as tf

from trainer import minilm

# MiniLM's layers run without AutoGraph (see minilm._new_backbone): the encoder's Python control
# flow is on Python values only.
_no_autograph = tf.autograph.experimental.do_not_convert


def has_words(mask: tf.Tensor) -> tf.Tensor:
    """[batch, tokens] real-token mask -> [batch] whether a text has a word between [CLS] and
    [SEP].

    MiniLM gives the empty text a unit vector like any other, so a shop's clicks and orders (no
    query) would all share one constant query vector. Under DP-SGD that constant is costly: the
    query MLP's weights on it learn only a bias, yet take a share of each user's clipped
    gradient and are noised every step (docs/benchmarks.md, MovieLens 1M: it has no queries).
    The zero vector gives those weights no gradient and no say in the query embedding."""
    return tf.reduce_sum(tf.cast(mask, tf.int32), -1) > 2


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
        """The trained top layers (none when frozen), then mean pooling; a text without words
        ([CLS] [SEP] alone: no query) is the zero vector."""
        for layer in self.top:
            hidden = layer(hidden, padding_mask=mask, training=False)
        return minilm.pool(hidden, mask) * tf.cast(has_words(mask), hidden.dtype)[:, tf.newaxis]

    def call(self, token_ids):
        return self.upper(*self.lower(token_ids))

    def encode_in_batches(self, token_ids: np.ndarray, batch: int = 256) -> np.ndarray:
        return np.concatenate([
            tf.cast(self(tf.constant(token_ids[i:i + batch])), tf.float32).numpy()
            for i in range(0, len(token_ids), batch)])
