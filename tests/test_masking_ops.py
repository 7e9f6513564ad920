"""The masking TF ops on their own: what is replaced, what survives, keyed pseudonyms."""
import pytest
import tensorflow as tf

from components.masking import pseudonymizer, text_scrubber


def scrub(texts):
    return [t.decode() for t in text_scrubber.scrub_text(tf.constant(texts)).numpy()]


@pytest.mark.parametrize("text, expected", [
    ("send to 13812345678", "send to [PHONE]"),
    ("call +86 138-1234-5678 now", "call [PHONE] now"),
    ("0086 13912345678", "[PHONE]"),
    ("+8613812345678", "[PHONE]"),
    ("tel 010-12345678", "tel [PHONE]"),
    ("call +1 415 555 0100 about shoes", "call [PHONE] about shoes"),
    ("contact me at wei.zhang3@example-mail.com", "contact me at [EMAIL]"),
    ("invoice id 11010519491231002X", "invoice id [ID_NUMBER]"),
    ("身份证号11010519491231002x。", "身份证号[ID_NUMBER]。"),
    ("card 4111 1111 1111 1111 pay", "card [BANK_CARD] pay"),
    ("卡号6011000990139424", "卡号[BANK_CARD]"),
])
def test_pii_is_replaced_by_typed_placeholders(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text", [
    "iPhone 15 Pro 256GB", "2019 running shoes", "order 2013812345678901", "size 42.5 EU",
    "order 110105194912310021",      # ID-shaped, wrong GB 11643 check digit
    "sku 4111111111111112",          # card-shaped, fails Luhn
    "Acme wireless headphones X200",
])
def test_product_text_survives(text):
    assert scrub([text]) == [text]


def test_generated_id_numbers_all_pass_the_checksum():
    import numpy as np
    from privrec.data import generator
    rng = np.random.default_rng(0)
    ids = [generator._id_number(rng, "1990-03-07") for _ in range(200)]
    assert text_scrubber.is_valid_id_number(tf.constant(ids)).numpy().all()
    assert scrub(ids) == [text_scrubber.ID_NUMBER] * 200


def test_scrubbing_is_idempotent():
    once = scrub(["send to 13812345678 or a@b.cn"])
    assert scrub(once) == once


def test_own_name_is_replaced_only_in_its_own_row():
    texts = tf.constant(["deliver to Wei Zhang", "gift for mr. li", "zhang brand kettle"])
    names = tf.constant(["Wei Zhang", "Ming Li", ""])
    out = text_scrubber.scrub_own_name(texts, names).numpy().tolist()
    assert out == [b"deliver to [NAME]", b"gift for mr. [NAME]", b"zhang brand kettle"]


def test_pseudonyms_are_stable_under_a_key_and_differ_across_keys(monkeypatch):
    ids = tf.constant(["user1", "user1", "user2"])
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    key_a = pseudonymizer.load_key()
    a = pseudonymizer.pseudonymize(ids, key_a).numpy()
    assert a[0] == a[1] != a[2] and b"user" not in a[0]
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    key_b = pseudonymizer.load_key()
    assert pseudonymizer.pseudonymize(ids, key_b).numpy()[0] != a[0]
    assert key_a.fingerprint != key_b.fingerprint and not key_a.is_dev


def test_no_key_is_refused_unless_dev_flag(monkeypatch):
    monkeypatch.delenv(pseudonymizer.KEY_ENV, raising=False)
    monkeypatch.delenv(pseudonymizer.KEY_FILE_ENV, raising=False)
    with pytest.raises(pseudonymizer.MissingKeyError, match="PRIVREC_PSEUDONYM_KEY"):
        pseudonymizer.load_key()
    assert pseudonymizer.load_key(allow_dev_key=True).is_dev
    monkeypatch.setenv(pseudonymizer.KEY_ENV, "not-hex")
    with pytest.raises(pseudonymizer.MissingKeyError, match="32 hex digits"):
        pseudonymizer.load_key()
