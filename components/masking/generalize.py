"""Generalisation of quasi-identifiers as TF ops: [n] raw strings -> [n] coarser values.

Methods (settings from the masking policy):
  year_band(width)        '1987-05-02' -> '1980-1989' (bands aligned to multiples of width)
  truncate_time(seconds)  '1700000123' -> 1699999200 (int64; floor to the period)
  prefix(length)          'zip021' -> 'zip0' (first `length` characters)
  bucket(boundaries)      '37.5' -> '[20,50)' with boundaries [20, 50, 100]; '<20' below the
                          first, '>=100' from the last (prices, ages)
  map(mapping, default)   'Hangzhou' -> 'China'; values not in the mapping -> default
  as_is                   already coarse; released unchanged (still counted for k-anonymity)
Empty strings stay empty (missing values are released as missing).
"""
from typing import Any, Dict, List, Sequence

import tensorflow as tf


def year_band(values: tf.Tensor, width: int) -> tf.Tensor:
    has_year = tf.strings.regex_full_match(values, r"\d{4}(-.*)?")
    year = tf.strings.to_number(tf.where(has_year, tf.strings.substr(values, 0, 4), "0"),
                                tf.int64)
    low = year // width * width
    band = tf.strings.join([tf.strings.as_string(low), tf.strings.as_string(low + width - 1)],
                           separator="-")
    return tf.where(has_year, band, "")


def truncate_time(values: tf.Tensor, seconds: int) -> tf.Tensor:
    return tf.strings.to_number(values, tf.int64) // seconds * seconds


def prefix(values: tf.Tensor, length: int) -> tf.Tensor:
    return tf.strings.substr(values, 0, length, unit="UTF8_CHAR")


def bucket_labels(boundaries: Sequence[float]) -> List[str]:
    """The released label of each bucket: '<b0', '[b0,b1)', ..., '>=bn'."""
    text = [f"{b:g}" for b in boundaries]
    return ([f"<{text[0]}"] + [f"[{lo},{hi})" for lo, hi in zip(text, text[1:])]
            + [f">={text[-1]}"])


def bucket(values: tf.Tensor, boundaries: Sequence[float]) -> tf.Tensor:
    present = tf.strings.length(tf.strings.strip(values)) > 0
    number = tf.strings.to_number(tf.where(present, values, "0"), tf.float32)
    index = tf.raw_ops.Bucketize(input=number, boundaries=[float(b) for b in boundaries])
    return tf.where(present, tf.gather(tf.constant(bucket_labels(boundaries)), index), "")


def mapping_table(mapping: Dict[str, str], default: str) -> tf.lookup.StaticHashTable:
    keys = tf.constant(list(mapping), tf.string)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, tf.constant(list(mapping.values()), tf.string)),
        default_value=default)


def generalizer(params: Dict[str, Any]):
    """The [n] string -> [n] tensor function for one column's `generalize` settings."""
    method = params["method"]
    if method == "year_band":
        return lambda v: year_band(v, int(params["width"]))
    if method == "truncate_time":
        return lambda v: truncate_time(v, int(params["seconds"]))
    if method == "prefix":
        return lambda v: prefix(v, int(params["length"]))
    if method == "bucket":
        return lambda v: bucket(v, params["boundaries"])
    if method == "map":
        table = mapping_table({str(k): str(v) for k, v in params["mapping"].items()},
                              str(params.get("default", "other")))
        return lambda v: tf.where(tf.strings.length(v) > 0, table.lookup(v), "")
    if method == "as_is":
        return lambda v: v
    raise ValueError(f"unknown generalize method {method!r}")
