"""Free-text PII scrubbing as TF ops, so the identical function runs inside the serving graph.

Detected spans are replaced by typed placeholders. Patterns are RE2 (tf.strings.regex_replace)
and are applied most specific first, so an ID number is not half-eaten by the phone pattern.
"""
import tensorflow as tf

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
ID_NUMBER = "[ID_NUMBER]"
NAME = "[NAME]"
PLACEHOLDERS = (EMAIL, PHONE, ID_NUMBER, NAME)

_SEP = r"[\s-]?"
# (placeholder, RE2 pattern), in application order.
PATTERNS = (
    (EMAIL, r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # Chinese resident ID number: 17 digits and a check digit or X (checksum: see issue 3).
    (ID_NUMBER, r"\b\d{17}[\dXx]\b"),
    # Chinese mobile, optionally +86 / 0086, digits grouped by spaces or dashes.
    (PHONE, r"(?:(?:\+|\b00)86" + _SEP + r"|\b)1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}\b"),
    # Chinese landline (area code 0xx / 0xxx).
    (PHONE, r"\b0\d{2,3}-\d{7,8}\b"),
    # International E.164 written with a leading +.
    (PHONE, r"\+\d{1,3}(?:" + _SEP + r"\d{2,4}){2,4}\b"),
)


def scrub_text(text: tf.Tensor) -> tf.Tensor:
    """Replaces emails, phone numbers and ID numbers in a string tensor of any shape."""
    for placeholder, pattern in PATTERNS:
        text = tf.strings.regex_replace(text, pattern, placeholder)
    return text


def _escape_regex(text: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(text, r"([\\.+*?()\[\]{}|^$])", r"\\\1")


def scrub_own_name(text: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
    """Replaces this row's own name (whole, or any part of 2+ letters) in its text by [NAME].

    Cross-field: `text` and `name` are 1-D and aligned; rows with an empty name are unchanged.
    """
    parts = tf.strings.split(tf.strings.strip(name))
    parts = tf.ragged.boolean_mask(parts, tf.strings.length(parts) >= 2)
    alternatives = tf.strings.reduce_join(_escape_regex(parts), axis=1, separator="|")
    full = _escape_regex(tf.strings.regex_replace(tf.strings.strip(name), r"\s+", " "))
    patterns = tf.strings.join([r"(?i)\b(?:", full, "|", alternatives, r")\b"])

    def replace(args):
        row_text, pattern, has_name = args
        return tf.cond(has_name,
                       lambda: tf.strings.regex_replace(row_text, pattern, NAME),
                       lambda: row_text)

    has_name = tf.strings.length(alternatives) > 0
    return tf.map_fn(replace, (text, patterns, has_name), fn_output_signature=tf.string)
