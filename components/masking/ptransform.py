"""The masking Beam PTransform: validated raw rows in, de-identified tf.Examples out.

Direct identifiers are dropped, user ids pseudonymised under the secret key, free text
scrubbed (emails, phones, ID numbers, the row's own name), birth dates generalised to decades.
All of it runs as TF ops on batches of rows.
"""
from typing import Dict, Iterable, List, Tuple

import apache_beam as beam
import tensorflow as tf

from components.masking import pseudonymizer, text_scrubber
from privrec.data import schema

# Masked example features (everything downstream sees; nothing else leaves ingestion).
STRING_FEATURES = (schema.USER_ID, schema.QUERY, schema.RECENT_ITEM_IDS, schema.ITEM_ID,
                   schema.EVENT_TYPE, "gender", "city", "birth_decade")
RAW_TEXT_COLUMNS = (schema.USER_ID, "name", schema.QUERY, schema.RECENT_ITEM_IDS, schema.ITEM_ID,
                schema.EVENT_TYPE, "gender", "city", "birth_date")


def make_mask_fn(key: pseudonymizer.PseudonymKey):
    """A tf.function mapping a dict of 1-D raw string tensors to the masked string features."""

    @tf.function(input_signature=[{c: tf.TensorSpec([None], tf.string) for c in RAW_TEXT_COLUMNS}])
    def mask(rows):
        query = text_scrubber.scrub_text(text_scrubber.scrub_own_name(rows[schema.QUERY], rows["name"]))
        birth = rows["birth_date"]
        decade = tf.where(tf.strings.regex_full_match(birth, r"\d{4}-.*"),
                          tf.strings.join([tf.strings.substr(birth, 0, 3), "0s"]), "")
        return {
            schema.USER_ID: pseudonymizer.pseudonymize(rows[schema.USER_ID], key),
            schema.QUERY: query,
            schema.RECENT_ITEM_IDS: rows[schema.RECENT_ITEM_IDS],
            schema.ITEM_ID: rows[schema.ITEM_ID],
            schema.EVENT_TYPE: rows[schema.EVENT_TYPE],
            "gender": rows["gender"],
            "city": rows["city"],
            "birth_decade": decade,
        }

    return mask


class _MaskBatch(beam.DoFn):
    def __init__(self, key: pseudonymizer.PseudonymKey):
        self._key = key
        self._mask = None

    def setup(self):
        self._mask = make_mask_fn(self._key)

    def process(self, rows: List[Dict]) -> Iterable[Tuple[int, bytes]]:
        inputs = {c: tf.constant([r[c] for r in rows], tf.string) for c in RAW_TEXT_COLUMNS}
        masked = {k: v.numpy() for k, v in self._mask(inputs).items()}
        for i, row in enumerate(rows):
            feature = {k: tf.train.Feature(bytes_list=tf.train.BytesList(value=[masked[k][i]]))
                       for k in STRING_FEATURES}
            feature[schema.TIMESTAMP] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[row[schema.TIMESTAMP]]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            yield row[schema.TIMESTAMP], example.SerializeToString()


class MaskInteractions(beam.PTransform):
    """PCollection[validated raw row dict] -> PCollection[(timestamp, serialized tf.Example)]."""

    def __init__(self, key: pseudonymizer.PseudonymKey, batch_size: int = 1024):
        super().__init__()
        self._key = key
        self._batch_size = batch_size

    def expand(self, rows):
        return (rows
                | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=self._batch_size)
                | "Mask" >> beam.ParDo(_MaskBatch(self._key)))


