"""Free-text PII scrubbing as TF ops, so the identical function runs inside the serving graph.

Detected spans are replaced by typed placeholders. Patterns are RE2; ID numbers (GB 11643
checksum) and bank cards (Luhn) are replaced only when their checksum holds, computed with TF
ops (no py_function), so order numbers and SKUs survive. Order: emails, ID numbers, phones
(so '+86 138…' is a phone, not a card), bank cards.
"""
import tensorflow as tf
import tensorflow_text as tf_text

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
ID_NUMBER = "[ID_NUMBER]"
BANK_CARD = "[BANK_CARD]"
NAME = "[NAME]"
PLACEHOLDERS = (EMAIL, PHONE, ID_NUMBER, BANK_CARD, NAME)

_SEP = r"[\s-]?"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE_PATTERNS = (
    # Chinese mobile, optionally +86 / 0086, digits grouped by spaces or dashes.
    r"(?:(?:\+|\b00)86" + _SEP + r"|\b)1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4}\b",
    # Chinese landline (area code 0xx / 0xxx).
    r"\b0\d{2,3}-\d{7,8}\b",
    # International E.164 written with a leading +.
    r"\+\d{1,3}(?:" + _SEP + r"\d{2,4}){2,4}\b",
)


# Candidates replaced only when their checksum holds, so order numbers and SKUs survive.
ID_NUMBER_CANDIDATE = r"\b\d{17}[\dXx]\b"
BANK_CARD_CANDIDATE = r"\b\d{4}(?:[ -]?\d{4}){2,3}(?:[ -]?\d{1,3})?\b|\b\d{13,19}\b"
_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = (1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2)  # check value for sum % 11; 10 is 'X'


def _digit_values(text: tf.Tensor) -> tf.RaggedTensor:
    """[n] strings -> ragged digit values; 'X'/'x' -> 10; other characters dropped."""
    code_points = tf.strings.unicode_decode(tf.strings.regex_replace(text, r"[^0-9Xx]", ""),
                                            "UTF-8")
    return tf.ragged.map_flat_values(lambda c: tf.where(c > ord("9"), 10, c - ord("0")),
                                     code_points)


def is_valid_id_number(text: tf.Tensor) -> tf.Tensor:
    """GB 11643 checksum of 18-character Chinese resident ID numbers ([n] -> [n] bool)."""
    digits = _digit_values(text)
    dense = digits.to_tensor(default_value=0, shape=[None, 18])
    total = tf.reduce_sum(dense[:, :17] * tf.constant(_GB11643_WEIGHTS), axis=1)
    expected = tf.gather(tf.constant(_GB11643_CHECK), total % 11)
    body_is_digits = tf.reduce_all(dense[:, :17] < 10, axis=1)
    return (digits.row_lengths() == 18) & body_is_digits & tf.equal(dense[:, 17], expected)


def passes_luhn(text: tf.Tensor) -> tf.Tensor:
    """Luhn check of the digits in each string ([n] -> [n] bool)."""
    digits = _digit_values(tf.strings.regex_replace(text, r"[^0-9]", ""))
    lengths = digits.row_lengths()
    from_end = tf.expand_dims(lengths, 1) - 1 - tf.ragged.range(lengths)
    doubled = tf.where(from_end % 2 == 1, digits * 2, digits)
    adjusted = tf.where(doubled > 9, doubled - 9, doubled)
    return (lengths >= 13) & (tf.reduce_sum(adjusted, axis=1) % 10 == 0)


def _replace_valid(text: tf.Tensor, candidate: str, is_valid, placeholder: str) -> tf.Tensor:
    """Replaces each match of `candidate` in [n] strings for which is_valid(match) holds."""
    pieces, _, _ = tf_text.regex_split_with_offsets(text, candidate, candidate)
    flat = pieces.flat_values
    valid = tf.strings.regex_full_match(flat, candidate) & is_valid(flat)
    replaced = pieces.with_flat_values(tf.where(valid, placeholder, flat))
    return tf.strings.reduce_join(replaced, axis=-1)


def scrub_text(text: tf.Tensor) -> tf.Tensor:
    """Replaces emails, ID numbers, bank cards and phone numbers in a [n] string tensor."""
    text = tf.strings.regex_replace(text, EMAIL_PATTERN, EMAIL)
    text = _replace_valid(text, ID_NUMBER_CANDIDATE, is_valid_id_number, ID_NUMBER)
    for pattern in PHONE_PATTERNS:
        text = tf.strings.regex_replace(text, pattern, PHONE)
    return _replace_valid(text, BANK_CARD_CANDIDATE, passes_luhn, BANK_CARD)


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
