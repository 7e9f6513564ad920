"""Feature engineering for Transform (`preprocessing_fn`) and the feature names the model uses.

Everything the transform graph uses is public (the catalog's item index, MiniLM's WordPiece
vocabulary): no tft analyzer runs over private interactions. The query is scrubbed again here
with the masking component's TF ops, so the serving graph (which embeds this transform) masks
raw request text exactly as ingestion did.
"""
import tensorflow as tf

from privrec import text_scrubber
from privrec.data import schema
from privrec.privacy import user_sampling
from trainer import catalog as catalog_lib, minilm

QUERY_TOKENS = "query_token_ids"
HISTORY = "history_item_idx"
LABEL = "item_idx"
# The pseudonymised user id, passed through unchanged: the Trainer groups examples by it to
# sample users (user-level DP-SGD, privrec/privacy/user_sampling.py). The model never sees it.
USER_KEY = user_sampling.USER_KEY


def _dense(x: tf.Tensor) -> tf.Tensor:
    """[batch, 1] (or sparse) string feature -> [batch]."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x, default_value="")
    return tf.reshape(x, [-1])


def history_indices(recent_item_ids: tf.Tensor, table, length: int) -> tf.Tensor:
    """Space-separated item ids -> [batch, length] item indices of the latest `length` items."""
    ids = tf.strings.split(recent_item_ids)[:, -length:]
    indices = tf.ragged.map_flat_values(table.lookup, ids)
    return indices.to_tensor(default_value=catalog_lib.PAD_INDEX, shape=[None, length])


def preprocessing_fn(inputs, custom_config):
    """Raw masked features -> query tokens, history item indices and (if present) the label
    and the user key."""
    catalog = catalog_lib.Catalog.load(custom_config["catalog_path"])
    query = text_scrubber.scrub_text(_dense(inputs[schema.QUERY]))
    table = catalog.item_table()
    outputs = {
        QUERY_TOKENS: minilm.tokenize(query, custom_config["query_max_tokens"]),
        HISTORY: history_indices(_dense(inputs[schema.RECENT_ITEM_IDS]), table,
                                 custom_config["history_length"]),
    }
    if schema.ITEM_ID in inputs:
        outputs[LABEL] = table.lookup(_dense(inputs[schema.ITEM_ID]))
    if schema.USER_ID in inputs:
        outputs[USER_KEY] = _dense(inputs[schema.USER_ID])
    return outputs
