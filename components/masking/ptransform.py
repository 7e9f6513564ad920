"""The masking Beam PTransform: validated raw rows in, de-identified rows out, per the policy.

All of it runs as TF ops on batches of rows (`make_mask_fn`): direct identifiers dropped or
pseudonymised under the secret key, quasi-identifiers generalised, sensitive attributes
randomised (attributes of the person once per user, under the key; attributes of one
interaction per row, from OS entropy: randomize.py), free text scrubbed (including this row's
own direct identifiers), the rest kept.
Each batch also reports how many placeholders of each type the scrubber put in each column.
"""
from typing import Dict, Iterable, List

import apache_beam as beam
import numpy as np
import tensorflow as tf

from components.masking import generalize, pseudonymizer, randomize
from privrec import text_scrubber
from components.masking.policy import DIRECT, FREE_TEXT, MaskingPolicy

STATS_TAG = "stats"
# Direct identifiers also searched for inside the same row's free text (by column name).
ROW_IDENTIFIER_COLUMNS = ("name", "phone", "email", "address")


def _count(text: tf.Tensor, placeholder: str) -> tf.Tensor:
    removed = tf.strings.length(tf.strings.regex_replace(text, tf.constant(
        placeholder.replace("[", r"\[").replace("]", r"\]")), ""))
    return tf.reduce_sum(tf.strings.length(text) - removed) // len(placeholder)


def column_transforms(policy: MaskingPolicy, key: pseudonymizer.PseudonymKey):
    """{column: dict of [n] raw strings -> [n] released values} for every column that is not
    free text or dropped: pseudonymised, generalised, randomised (per user from the rows'
    pseudonyms, or per row) or kept, per the policy. Builds the randomisers' generators: call
    it outside a tf.function."""
    transforms = {}
    for rule in policy.columns.values():
        column = rule.column
        if rule.action == "pseudonymize":
            transforms[column] = lambda rows, c=column: pseudonymizer.pseudonymize(rows[c], key)
        elif rule.action == "generalize":
            transforms[column] = lambda rows, c=column, fn=generalize.generalizer(rule.params): \
                fn(rows[c])
        elif rule.action == "randomize":
            fn = randomize.randomizer(rule.params, column, key)
            if randomize.unit(rule.params) == randomize.USER:
                user = policy.user_column
                transforms[column] = lambda rows, c=column, fn=fn, u=user: fn(
                    rows[c], pseudonymizer.pseudonymize(rows[u], key))
            else:
                transforms[column] = lambda rows, c=column, fn=fn: fn(rows[c], None)
        elif rule.action in ("keep",):
            transforms[column] = lambda rows, c=column: rows[c]
    return transforms


def make_mask_fn(policy: MaskingPolicy, key: pseudonymizer.PseudonymKey):
    """A tf.function: dict of [n] raw strings (every policy column) -> (masked, counts)."""
    identifiers = [r.column for r in policy.with_role(DIRECT)
                   if r.column in ROW_IDENTIFIER_COLUMNS]
    transforms = column_transforms(policy, key)
    free_text = [r.column for r in policy.with_role(FREE_TEXT)]

    @tf.function(input_signature=[{c: tf.TensorSpec([None], tf.string) for c in policy.columns}])
    def mask(rows):
        masked = {column: fn(rows) for column, fn in transforms.items()}
        counts = {}
        own = {c: rows[c] for c in identifiers}
        for column in free_text:
            text = text_scrubber.scrub_text(text_scrubber.scrub_row_identifiers(rows[column], own))
            masked[column] = text
            for placeholder in text_scrubber.PLACEHOLDERS:
                counts[f"{column}:{placeholder}"] = (_count(text, placeholder)
                                                     - _count(rows[column], placeholder))
        return masked, counts

    return mask


def _python_value(value):
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    return int(value)


def _column_batch(rows: List[Dict[str, str]], columns) -> Dict[str, tf.Tensor]:
    """Raw rows -> one string tensor per column."""
    return {c: tf.constant([r[c] for r in rows], tf.string) for c in columns}


def _python_rows(columns: Dict[str, tf.Tensor]) -> Iterable[Dict]:
    """One tensor per column -> a dict of Python values per row."""
    values = {k: v.numpy() for k, v in columns.items()}
    for i in range(len(next(iter(values.values()))) if values else 0):
        yield {k: _python_value(v[i]) for k, v in values.items()}


class _MaskBatch(beam.DoFn):
    def __init__(self, policy: MaskingPolicy, key: pseudonymizer.PseudonymKey):
        self._policy = policy
        self._key = key
        self._mask = None

    def setup(self):
        self._mask = make_mask_fn(self._policy, self._key)

    def process(self, rows: List[Dict[str, str]]) -> Iterable[Dict]:
        masked, counts = self._mask(_column_batch(rows, self._policy.columns))
        yield from _python_rows(masked)
        stats = {k: int(v) for k, v in counts.items()}
        stats["rows_in"] = len(rows)
        for column, rule in self._policy.columns.items():
            stats[f"{column}:non_empty"] = sum(1 for r in rows if r[column].strip())
        yield beam.pvalue.TaggedOutput(STATS_TAG, stats)


def sum_counts(dicts: Iterable[Dict[str, int]]) -> Dict[str, int]:
    total: Dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def to_example(row: Dict) -> bytes:
    """A masked row -> serialized tf.Example (None, i.e. a missing number, -> no value)."""
    feature = {}
    for name, value in row.items():
        if isinstance(value, bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        elif isinstance(value, int):
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            values = [] if value is None else [value]
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


class _ReleaseBatch(beam.DoFn):
    def __init__(self, policy: MaskingPolicy, key: pseudonymizer.PseudonymKey, columns):
        self._policy = policy
        self._key = key
        self._columns = list(columns)
        self._release = None

    def setup(self):
        transforms = column_transforms(self._policy, self._key)
        transforms = {c: transforms[c] for c in self._columns}
        self._release = tf.function(
            lambda rows: {c: fn(rows) for c, fn in transforms.items()},
            input_signature=[{c: tf.TensorSpec([None], tf.string) for c in self._columns}])

    def process(self, rows: List[Dict[str, str]]) -> Iterable[Dict]:
        yield from _python_rows(self._release(_column_batch(rows, self._columns)))


class ReleasedColumns(beam.PTransform):
    """PCollection[raw row dict] -> dicts of the given columns' released values, exactly as
    MaskInteractions releases them; only deterministic columns (pseudonymised, generalised,
    kept): the masking executor's figures pass, which must agree with the masked rows."""

    def __init__(self, policy: MaskingPolicy, key: pseudonymizer.PseudonymKey, columns,
                 batch_size: int = 1024):
        super().__init__()
        random = [c for c in columns
                  if policy.columns[c].action not in ("pseudonymize", "generalize", "keep")]
        if random:
            raise ValueError(f"columns {random} are not released deterministically (action "
                             "randomize or drop): a second masking would not reproduce them")
        self._policy = policy
        self._key = key
        self._columns = columns
        self._batch_size = batch_size

    def expand(self, rows):
        return (rows
                | "Batch" >> beam.BatchElements(min_batch_size=64,
                                                max_batch_size=self._batch_size)
                | "Release" >> beam.ParDo(_ReleaseBatch(self._policy, self._key,
                                                        self._columns)))


class MaskInteractions(beam.PTransform):
    """PCollection[raw row dict of strings] -> masked row dicts, plus tagged per-batch stats.

    Apply it and read `.masked` and `.stats` (a PCollection with one dict of counts).
    """

    def __init__(self, policy: MaskingPolicy, key: pseudonymizer.PseudonymKey,
                 batch_size: int = 1024):
        super().__init__()
        self._policy = policy
        self._key = key
        self._batch_size = batch_size

    def expand(self, rows):
        outputs = (rows
                   | "Batch" >> beam.BatchElements(min_batch_size=64,
                                                   max_batch_size=self._batch_size)
                   | "Mask" >> beam.ParDo(_MaskBatch(self._policy, self._key)).with_outputs(
                       STATS_TAG, main="masked"))
        stats = outputs[STATS_TAG] | "SumStats" >> beam.CombineGlobally(sum_counts)
        return {"masked": outputs.masked, "stats": stats}
