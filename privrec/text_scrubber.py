"""Free-text PII scrubbing as TF ops, so the identical function runs inside the serving graph.

`scrub_text` replaces detected spans by typed placeholders, in this order: credential-bearing
URLs (before emails, so 'user:pass@host' is one [URL]), emails, IP addresses, ID numbers (GB 11643
checksum), mobile and international phones (so '+86 138…' is a phone, not a card), bank cards
(Luhn), landlines (after cards, whose digit groups can look like an area code and a number),
phones in full-width digits, labelled names, labelled addresses. Checksums are computed with TF
ops, so order numbers and SKUs survive.
`scrub_row_identifiers` replaces a row's own name/phone/email/address wherever its text repeats
them. Patterns are RE2: no lookaround, and `\\b` only sees ASCII word characters.
It stays one file past ~300 lines (issue #31): the static patterns and the per-row identifiers
are one scrubber: the same placeholders and RE2 conventions, applied together to each free-text
column at masking (serving, with no row to take identifiers from, uses `scrub_text` alone).
"""
from typing import Dict

import tensorflow as tf
import tensorflow_text as tf_text

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
ID_NUMBER = "[ID_NUMBER]"
BANK_CARD = "[BANK_CARD]"
NAME = "[NAME]"
IP = "[IP]"
URL = "[URL]"
ADDRESS = "[ADDRESS]"
PLACEHOLDERS = (EMAIL, PHONE, ID_NUMBER, BANK_CARD, NAME, IP, URL, ADDRESS)

_SEP = r"[\s-]?"
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Separators people put between digit groups of a phone number: space, dash or dot.
_GROUP_SEP = r"[\s.\-]"
# Chinese mobile, optionally +86 / 0086, grouped 3-4-4 by spaces, dashes or dots.
CN_MOBILE = (r"(?:(?:\+|\b00)86" + _SEP + r"|\b)1[3-9]\d" + _GROUP_SEP + r"?\d{4}" + _GROUP_SEP
             + r"?\d{4}\b")
# Chinese landline: area code (010, 02x or 0xxx) then a dash, space or dot, or the area code in
# ASCII or full-width parentheses; the local number (7-8 digits) compact or grouped 3/4-4.
_AREA = r"0(?:10|2\d|[3-9]\d{2})"
_AREA_THEN_SEP = _AREA + _GROUP_SEP
_AREA_IN_PARENS = r"[(（]" + _AREA + r"[)）]" + _GROUP_SEP + r"?"
_LOCAL = r"(?:\d{7,8}|\d{3,4}" + _GROUP_SEP + r"\d{4})"
_LANDLINE = r"(?:" + _AREA_THEN_SEP + r"|" + _AREA_IN_PARENS + r")" + _LOCAL
# Searched together with 4-4-4-4 digit groups, one separator throughout (SKUs, cards that failed
# Luhn), which are left alone: '0755 3456 7890' inside 'SKU 6222 0755 3456 7890' is no landline. Landlines run after
# bank cards for the same reason.
LANDLINE_CANDIDATE = (r"\b\d{4}(?: \d{4}){3}(?: \d{1,3})?\b"
                      r"|\b\d{4}(?:-\d{4}){3}(?:-\d{1,3})?\b"
                      r"|(?:\b" + _AREA_THEN_SEP + r"|" + _AREA_IN_PARENS + r")" + _LOCAL + r"\b")
PHONE_PATTERNS = (CN_MOBILE,)
# Digits typed in full-width (a Chinese IME's full-width mode), read as ASCII and replaced when
# they are a whole Chinese mobile or landline number: a mobile grouped 3-4-4 by spaces, else a
# maximal run of digits, dashes, dots and parentheses (so a longer number is no phone, and two
# numbers separated by a space are two candidates).
_FULLWIDTH_DIGIT = "[０-９]"
_FULLWIDTH_SPACE = "[ 　]"
FULLWIDTH_PHONE_CANDIDATE = (
    r"(?:[＋+][８8][６6]" + _FULLWIDTH_SPACE + r"?)?１[３-９]" + _FULLWIDTH_DIGIT
    + r"(?:" + _FULLWIDTH_SPACE + _FULLWIDTH_DIGIT + r"{4}){2}"
    + r"|(?:[＋+][８8][６6][\-－.．" + _FULLWIDTH_SPACE[1:-1] + r"]?|[(（]" + _FULLWIDTH_DIGIT
    + r"{3,4}[)）]" + _FULLWIDTH_SPACE + r"?)?"
    + _FULLWIDTH_DIGIT + r"(?:[\-－.．]?" + _FULLWIDTH_DIGIT + r")+")
# What such a run must be once read as ASCII: a whole mobile or landline number.
WHOLE_CN_PHONE = (r"(?:\+86" + _GROUP_SEP + r"?)?1[3-9]\d(?:" + _GROUP_SEP + r"?\d{4}){2}"
                  r"|" + _LANDLINE + r"|" + _AREA + r"\d{7,8}")

# International numbers with a leading '+', grouped any way; replaced when they hold 8-15 digits
# (E.164's maximum is 15), so '+1 2' or a '+20%' stays.
INTERNATIONAL_PHONE_CANDIDATE = r"\+\d{1,3}(?:[\s-]?\d{1,4}){1,7}\b"
# Second pass, at most 3 groups after the country code and ending at a space: a number followed
# by a date or an order number ('+44 20 7371 2492 2021/01/17') is too long with it and the right
# length without it (the space stays).
INTERNATIONAL_PHONE_SHORT = r"\+\d{1,3}(?:[\s-]?\d{1,4}){1,3}(?:\s|$)"

# URLs with credentials: userinfo before the host, or a query/fragment/matrix parameter whose
# name has a secret-looking segment ('token', 'api_key', 'X-Amz-Signature', 'accessToken'; not
# 'keyword' or 'zipcode'). The whole URL goes; URLs without either survive.
SECRET_PARAM_WORDS = ("token", "access_token", "api_key", "apikey", "key", "password", "passwd",
                      "pwd", "secret", "session", "sessionid", "jsessionid", "sid", "auth",
                      "signature", "sig", "code", "ticket")
_URL_CHAR = r"[\w\-.~:/?#\[\]@!$&'()*+,;=%]"
_SECRET_PARAM_NAME = (
    r"(?:(?:[\w.\-]*[_.\-])?(?i:" + "|".join(SECRET_PARAM_WORDS) + r")"      # snake/kebab/dot
    r"|[\w.\-]*[a-z0-9](?:" + "|".join(w.capitalize() for w in SECRET_PARAM_WORDS) + r"))"  # camel
    r"(?:[_.\-][\w.\-]*|[A-Z][\w.\-]*)?")
CREDENTIAL_URL_PATTERN = (
    r"\b[A-Za-z][A-Za-z0-9+.\-]*://"
    r"(?:[\w\-.~!$&'()*+,;=%:]+@" + _URL_CHAR + "*"
    r"|" + _URL_CHAR + r"*?[?#&;]" + _SECRET_PARAM_NAME + "=" + _URL_CHAR + "*)")

# IP addresses, matched against whole tokens so '1.2.3.4.5', 'v2.0.1.5', '192.168.1.300' and
# '12:30:45' survive; a bare dotted quad of 0-255 octets ('1.2.3.4') is taken as an IP.
IPV4_TOKEN = r"\w+(?:\.\w+){3,}"
IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
IPV6_TOKEN = r"[\w.:]*:[\w.]*:[\w.:]*"  # 2+ colons
_H = r"[0-9A-Fa-f]{1,4}"
# Full, '::'-compressed (group count after compression not checked) and IPv4-embedded forms.
IPV6 = (r"(?:" + _H + r":){7}" + _H
        + r"|(?:" + _H + r"(?::" + _H + r"){0,6})?::(?:" + _H + r"(?::" + _H + r"){0,6})?"
        + r"|(?:(?:" + _H + r":){6}|(?:" + _H + r"(?::" + _H + r"){0,4})?::(?:" + _H + r":){0,4})"
        + IPV4)
# A token may carry a label glued on by a colon ('ip:fe80::1'); a label has a non-hex letter.
_IPV6_IN_TOKEN = r"(\w*[G-Zg-z_]\w*:)?(?:" + IPV6 + r")(\.?)"

# Labelled names and addresses: the label stays, the value becomes the placeholder. Bare English
# 'name'/'address' count only at the start or after a non-letter (',', digit, CJK, newline),
# optionally with a qualifier, so 'Brand name: Nike' and 'email address: …' survive.
_COLON = r"[ \t]*[:：][ \t]*"
_EN_LABEL_START = r"(?:^|[^A-Za-z \t])[ \t]*"
_NAME_LABEL = (
    r"(?:(?:收件人|收货人|姓名|联系人)(?:" + _COLON + r"|[ \t]+)"
    r"|(?i:\b(?:recipient|receiver|consignee|contact)(?:'s)?(?:[ \t]+(?:full[ \t]+)?name|[ \t]+person)?"
    r"|" + _EN_LABEL_START + r"(?:(?:full|first|last|customer|my|your)[ \t]+)?name)" + _COLON
    + r"|\b(?:Name|NAME)" + _COLON + ")")  # capitalised 'Name:' counts after any word
_NAME_VALUE = r"\p{Han}{2,4}|[A-Z][A-Za-z'\-]*\.?(?:[ \t]+[A-Z][A-Za-z'\-]*\.?){0,2}"
LABELLED_NAME_PATTERN = "(" + _NAME_LABEL + ")(?:" + _NAME_VALUE + ")"
_ADDRESS_LABEL = (
    r"(?:地址|住址|(?i:\baddr\.?)"
    r"|(?i:(?:" + _EN_LABEL_START
    + r"(?:(?:shipping|delivery|billing|home|postal|mailing|street|full|my|your)[ \t]+)?"
    + r"|\b(?:to|at|this|the|new)[ \t]+)address))" + _COLON)
# Runs to end of text, newline, ';', '；', '。', '，', '|' or a placeholder (labels run last, so
# other PII is a placeholder by then); an ASCII comma stays inside ('12 Baker St, London').
_ADDRESS_VALUE = r"[^\s\[;；。，|](?:[^\n\[;；。，|]*[^\s\[;；。，|])?"
LABELLED_ADDRESS_PATTERN = "(" + _ADDRESS_LABEL + ")" + _ADDRESS_VALUE
# After any word ('puzzle address: 12 …'), when the value looks like a street address: it starts
# with a house number or apartment word. ('email address: [EMAIL]' starts with a placeholder.)
STREET_ADDRESS_PATTERN = (r"((?i:\baddress)" + _COLON + r")(?:\d|(?i:apt|unit|suite|flat|room|no)\b)"
                          r"(?:[^\n\[;；。，|]*[^\s\[;；。，|])?")

# Candidates replaced only when their checksum holds, so order numbers and SKUs survive.
ID_NUMBER_CANDIDATE = r"\b\d{17}[\dXx]\b"
BANK_CARD_CANDIDATE = (r"\b\d{4}(?:[ -]?\d{4}){2,3}(?:[ -]?\d{1,3})?\b|\b\d{13,19}\b"
                       r"|\b\d{4}[ -]\d{6}[ -]\d{4,5}\b")  # Amex / Diners 4-6-5 / 4-6-4
# Second pass without the 1-3 digit tail of 19-digit cards: a card followed by a size or date
# ('6264 0724 9175 9053 38码') fails Luhn with the number after it and passes without it.
BANK_CARD_WITHOUT_TAIL = r"\b\d{4}(?:[ -]?\d{4}){2,3}\b"
# Issuer prefix and length (Visa, Mastercard, Amex, UnionPay, Discover, JCB, Diners, Maestro):
# an 18-digit order number starting '2024…' passes Luhn one time in ten but is no card.
CARD_NUMBER = (r"4(?:\d{12}|\d{15}|\d{18})|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01])\d{13}|2720\d{12}"
               r"|3[47]\d{13}|3(?:0[0-5]|[689]\d)\d{11,13}|35\d{14,17}|6\d{11,18}|5[06-9]\d{10,17}")
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
    # On the flat digits with their row ids: ragged broadcasting would trace ~2,500 graph nodes
    # (seconds per trace, and Transform traces the serving graph's scrubber many times).
    values, rows = digits.flat_values, digits.value_rowids()
    lengths = digits.row_lengths()
    from_end = tf.gather(digits.row_limits(), rows) - 1 - tf.range(tf.size(values, tf.int64))
    doubled = tf.where(from_end % 2 == 1, values * 2, values)
    adjusted = tf.where(doubled > 9, doubled - 9, doubled)
    total = tf.math.unsorted_segment_sum(adjusted, rows, tf.size(lengths))
    return (lengths >= 13) & (total % 10 == 0)


def is_card_number(text: tf.Tensor) -> tf.Tensor:
    """Luhn check and a known issuer prefix/length ([n] -> [n] bool)."""
    digits = tf.strings.regex_replace(text, r"[^0-9]", "")
    return tf.strings.regex_full_match(digits, CARD_NUMBER) & passes_luhn(text)


def _fold_width(text: tf.Tensor) -> tf.Tensor:
    """Full-width ASCII forms (U+FF01-FF5E: '１', '－', '（') and the ideographic space as ASCII."""
    code_points = tf.strings.unicode_decode(text, "UTF-8")
    folded = tf.ragged.map_flat_values(
        lambda c: tf.where((c >= 0xFF01) & (c <= 0xFF5E), c - 0xFEE0,
                           tf.where(c == 0x3000, 0x20, c)), code_points)
    return tf.strings.unicode_encode(folded, "UTF-8")


def _is_landline(text: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_full_match(text, "(?:" + _LANDLINE + ")")


def _is_fullwidth_cn_phone(text: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_full_match(_fold_width(text), WHOLE_CN_PHONE)


def _has_e164_length(text: tf.Tensor) -> tf.Tensor:
    n_digits = tf.strings.length(tf.strings.regex_replace(text, r"[^0-9]", ""))
    return (n_digits >= 8) & (n_digits <= 15)


def _replace_valid(text: tf.Tensor, candidate: str, is_valid, placeholder: str,
                   keep_trailing_space: bool = False) -> tf.Tensor:
    """Replaces each match of `candidate` in [n] strings for which is_valid(match) holds (a
    whitespace character the match ends with is kept after the placeholder if asked). Only the
    strings holding a match are split (a regex scan is much cheaper than a split and join)."""
    at = tf.where(tf.strings.regex_full_match(text, "(?s).*(?:" + candidate + ").*"))
    replaced = _replace_valid_in_all(tf.gather_nd(text, at), candidate, is_valid, placeholder,
                                     keep_trailing_space)
    return tf.tensor_scatter_nd_update(text, at, replaced)


def _replace_valid_in_all(text: tf.Tensor, candidate: str, is_valid, placeholder: str,
                          keep_trailing_space: bool) -> tf.Tensor:
    pieces, _, _ = tf_text.regex_split_with_offsets(text, candidate, candidate)
    flat = pieces.flat_values
    # Checksums only on the matches (few), not on every piece of text between them.
    at = tf.where(tf.strings.regex_full_match(flat, candidate))
    matches = tf.gather_nd(flat, at)
    replacement = (tf.strings.regex_replace(matches, r"^(?s:.*?)(\s?)$", placeholder + r"\1")
                   if keep_trailing_space else placeholder)
    flat = tf.tensor_scatter_nd_update(flat, at,
                                       tf.where(is_valid(matches), replacement, matches))
    return tf.strings.reduce_join(pieces.with_flat_values(flat), axis=-1)


def _rewrite_whole_tokens(text: tf.Tensor, token: str, whole: str, rewrite: str) -> tf.Tensor:
    """Rewrites each maximal `token` match in [n] strings that `whole` matches from end to end
    (only the strings holding a token are split)."""
    at = tf.where(tf.strings.regex_full_match(text, "(?s).*(?:" + token + ").*"))
    pieces, _, _ = tf_text.regex_split_with_offsets(tf.gather_nd(text, at), token, token)
    rewritten = tf.strings.regex_replace(pieces.flat_values, "^(?:" + whole + ")$", rewrite)
    return tf.tensor_scatter_nd_update(
        text, at, tf.strings.reduce_join(pieces.with_flat_values(rewritten), axis=-1))


# One trace per process: Transform traces its preprocessing_fn several times (and the serving
# export once more); each call in a new graph reuses this function instead of rebuilding its
# ~1,000 ops (seconds each time).
@tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
def scrub_text(text: tf.Tensor) -> tf.Tensor:
    """Replaces URLs with credentials, emails, IPs, ID numbers, phones, bank cards and labelled
    names and addresses in a [n] string tensor by their placeholders."""
    text = tf.strings.regex_replace(text, CREDENTIAL_URL_PATTERN, URL)
    text = tf.strings.regex_replace(text, EMAIL_PATTERN, EMAIL)
    text = _rewrite_whole_tokens(text, IPV6_TOKEN, _IPV6_IN_TOKEN, r"\1" + IP + r"\2")
    text = _rewrite_whole_tokens(text, IPV4_TOKEN, IPV4, IP)
    text = _replace_valid(text, ID_NUMBER_CANDIDATE, is_valid_id_number, ID_NUMBER)
    for pattern in PHONE_PATTERNS:
        text = tf.strings.regex_replace(text, pattern, PHONE)
    text = _replace_valid(text, INTERNATIONAL_PHONE_CANDIDATE, _has_e164_length, PHONE)
    text = _replace_valid(text, INTERNATIONAL_PHONE_SHORT, _has_e164_length, PHONE,
                          keep_trailing_space=True)
    text = _replace_valid(text, BANK_CARD_CANDIDATE, is_card_number, BANK_CARD)
    text = _replace_valid(text, BANK_CARD_WITHOUT_TAIL, is_card_number, BANK_CARD)
    text = _replace_valid(text, LANDLINE_CANDIDATE, _is_landline, PHONE)
    text = _replace_valid(text, FULLWIDTH_PHONE_CANDIDATE, _is_fullwidth_cn_phone, PHONE)
    text = tf.strings.regex_replace(text, LABELLED_NAME_PATTERN, r"\1" + NAME)
    text = tf.strings.regex_replace(text, LABELLED_ADDRESS_PATTERN, r"\1" + ADDRESS)
    return tf.strings.regex_replace(text, STREET_ADDRESS_PATTERN, r"\1" + ADDRESS)


# --- Cross-field: a row's own identifiers, as per-row patterns ('' = nothing to replace). ---

_CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"


def _escape_regex(text: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(text, r"([\\.+*?()\[\]{}|^$])", r"\\\1")


def _literal(text: tf.Tensor) -> tf.Tensor:
    """Regex for each literal: escaped, any whitespace run as \\s+, and an ASCII \\b at each end
    that is an ASCII word character (so CJK text, which has no \\b, matches as a substring)."""
    pattern = tf.strings.regex_replace(_escape_regex(tf.strings.strip(text)), r"\s+", r"\\s+")
    pattern = tf.where(tf.strings.regex_full_match(pattern, r"(?s)\w.*"),
                       tf.strings.join([r"\b", pattern]), pattern)
    return tf.where(tf.strings.regex_full_match(pattern, r"(?s).*\w"),
                    tf.strings.join([pattern, r"\b"]), pattern)


def _alternation(alternatives: tf.RaggedTensor) -> tf.Tensor:
    """[n, (k)] literals -> [n] case-insensitive patterns matching any, earlier ones preferred;
    '' where a row has no non-blank literal."""
    literals = alternatives.with_flat_values(_literal(alternatives.flat_values))
    literals = tf.ragged.boolean_mask(literals, tf.strings.length(literals) > 0)
    joined = tf.strings.reduce_join(literals, axis=1, separator="|")
    return tf.where(tf.strings.length(joined) > 0, tf.strings.join(["(?i)(?:", joined, ")"]), "")


def _name_pattern(name: tf.Tensor) -> tf.Tensor:
    """The whole name, then each Latin part of 2+ letters, each CJK part of 2+ characters and,
    for CJK parts of 3+ characters, the given name (all but the first character)."""
    parts = tf.strings.split(tf.strings.strip(name))
    flat = parts.flat_values
    is_cjk = tf.strings.regex_full_match(flat, "(?s).*" + _CJK + ".*")
    n_chars = tf.strings.length(flat, unit="UTF8_CHAR")
    n_letters = tf.strings.length(tf.strings.regex_replace(flat, r"\PL", ""), unit="UTF8_CHAR")
    long_enough = tf.where(is_cjk, n_chars >= 2, n_letters >= 2)
    given_name = tf.strings.substr(flat, tf.ones_like(n_chars), n_chars, unit="UTF8_CHAR")
    return _alternation(tf.concat([
        tf.expand_dims(name, 1),
        parts.with_flat_values(tf.where(long_enough, flat, "")),
        parts.with_flat_values(tf.where(is_cjk & (n_chars >= 3), given_name, "")),
    ], axis=1))


def _email_pattern(email: tf.Tensor) -> tf.Tensor:
    return _alternation(tf.RaggedTensor.from_tensor(tf.expand_dims(email, 1)))


def _address_pattern(address: tf.Tensor) -> tf.Tensor:
    """The whole address, then its first comma-separated part (street) if 6+ characters."""
    parts = tf.strings.split(tf.strings.regex_replace(address, "，", ","), ",")
    street = tf.strings.strip(parts[:, :1].to_tensor(default_value="")[:, 0])
    street = tf.where((tf.strings.length(street, unit="UTF8_CHAR") >= 6)
                      & (street != tf.strings.strip(address)), street, "")
    return _alternation(tf.RaggedTensor.from_tensor(tf.stack([address, street], axis=1)))


def _phone_pattern(phone: tf.Tensor) -> tf.Tensor:
    """Any tail of the stored digits that is 7+ digits long, optional spaces/dashes between
    digits, an optional '+'/'00' before, not preceded by a digit (group 1 keeps that character)."""
    digits = tf.strings.regex_replace(phone, r"\D", "")
    n_digits = tf.strings.length(digits)
    head_len = tf.maximum(n_digits - 7, 0)
    head = tf.strings.substr(digits, tf.zeros_like(head_len), head_len)
    tail = tf.strings.substr(digits, head_len, n_digits - head_len)
    # Head digits optional from the left: "(?:(?:8S)?6S)?" for head "86", S the separator
    # (its backslashes doubled, as a rewrite string).
    opens = tf.strings.regex_replace(head, r"\d", "(?:")
    closes = tf.strings.regex_replace(head, r"(\d)", r"\1" + _SEP.replace("\\", "\\\\") + ")?")
    spaced_tail = tf.strings.reduce_join(tf.strings.bytes_split(tail), axis=1, separator=_SEP)
    pattern = tf.strings.join([r"(^|[^\d+])(?:\+|00)?", opens, closes, spaced_tail])
    return tf.where(n_digits >= 7, pattern, "")


# Applied in this order: an email holds name parts, an address may hold a name. The last field
# is a static pattern a text must match for the per-row pattern to be worth compiling.
_ROW_IDENTIFIERS = (
    ("email", _email_pattern, EMAIL, r"(?s).*@.*"),
    ("phone", _phone_pattern, r"\1" + PHONE, r"(?s).*\d(?:" + _SEP + r"\d){6}.*"),
    ("address", _address_pattern, ADDRESS, None),
    ("name", _name_pattern, NAME, None),
)


def scrub_row_identifiers(text: tf.Tensor, identifiers: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Replaces each row's own identifiers where its text repeats them.

    `identifiers` maps any of 'name', 'phone', 'email', 'address' to [n] strings aligned with the
    [n] `text`; an empty value replaces nothing in that row.
    """
    unknown = set(identifiers) - {key for key, _, _, _ in _ROW_IDENTIFIERS}
    if unknown:
        raise ValueError(f"unknown identifier fields {sorted(unknown)}")
    patterns, rewrites = [], []
    for key, build_pattern, rewrite, text_must_match in _ROW_IDENTIFIERS:
        if key in identifiers:
            pattern = build_pattern(identifiers[key])
            if text_must_match:
                pattern = tf.where(tf.strings.regex_full_match(text, text_must_match), pattern, "")
            patterns.append(pattern)
            rewrites.append(rewrite)
    if not patterns:
        return text

    def scrub_row(args):
        row_text, row_patterns = args
        for i, rewrite in enumerate(rewrites):
            row_text = tf.cond(
                tf.strings.length(row_patterns[i]) > 0,
                lambda t=row_text, p=row_patterns[i], r=rewrite: tf.strings.regex_replace(t, p, r),
                lambda t=row_text: t)
        return row_text

    return tf.map_fn(scrub_row, (text, tf.stack(patterns, axis=1)), fn_output_signature=tf.string)
