"""A small real SavedModel with privrec's serving contract, for the try-it page's tests.

Its `serving_default` takes (user_id, query, recent_item_ids) and returns item_ids, scores,
titles and masked_query like trainer/export.py's; the query is masked by the very ops the real
model uses (privrec.text_scrubber.scrub_text). An item scores one point per title word in the
masked query and half a point when recently viewed. assets.extra/catalog.json is written as
the trainer's export writes it.
"""
import json
import os

import tensorflow as tf

from privrec import contract, text_scrubber

CATALOG = [("p001", "Wireless Headphones"), ("p002", "Running Shoes"),
           ("p003", "Electric Kettle"), ("p004", "Phone Case"), ("p005", "Desk Lamp"),
           ("p006", "Wireless Mouse"), ("p007", "Coffee Grinder"), ("p008", "Yoga Mat")]
TOP_K = 5


class CatalogModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id"),
                                  tf.TensorSpec([None], tf.string, name="query"),
                                  tf.TensorSpec([None], tf.string, name="recent_item_ids")])
    def serve(self, user_id, query, recent_item_ids):
        del user_id
        masked = text_scrubber.scrub_text(query)
        lower = tf.strings.lower(masked)
        columns = []
        for item_id, title in CATALOG:
            score = tf.cast(tf.strings.regex_full_match(recent_item_ids, f".*\\b{item_id}\\b.*"),
                            tf.float32) * 0.5
            for word in title.lower().split():
                score += tf.cast(tf.strings.regex_full_match(lower, f".*\\b{word}\\b.*"),
                                 tf.float32)
            columns.append(score)
        scores, positions = tf.math.top_k(tf.stack(columns, axis=1), k=TOP_K)
        return {"item_ids": tf.gather(tf.constant([i for i, _ in CATALOG]), positions),
                "scores": scores,
                contract.TITLES_KEY: tf.gather(tf.constant([t for _, t in CATALOG]), positions),
                contract.MASKED_QUERY_KEY: masked}


def save(base_path: str, version: int = 1) -> str:
    """Writes the model as `version` under `base_path`; returns the version directory."""
    directory = os.path.join(base_path, str(version))
    module = CatalogModel()
    tf.saved_model.save(module, directory,
                        signatures={contract.SERVING_SIGNATURE: module.serve.get_concrete_function()})
    os.makedirs(os.path.join(directory, "assets.extra"), exist_ok=True)
    with open(os.path.join(directory, "assets.extra", contract.CATALOG_FILE), "w") as f:
        json.dump([{"item_id": i, "title": t} for i, t in CATALOG], f)
    return directory
