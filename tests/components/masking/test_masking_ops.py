"""The masking TF ops on their own: what is replaced, what survives, keyed pseudonyms."""
import pytest
import tensorflow as tf

from components.masking import pseudonymizer
from privrec import text_scrubber


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


@pytest.mark.parametrize("text, expected", [
    ("server 192.168.1.1 down", "server [IP] down"),
    ("ip:10.0.0.1:8080", "ip:[IP]:8080"),
    ("seen at 10.0.0.1.", "seen at [IP]."),
    ("1.1.1.1 2.2.2.2", "[IP] [IP]"),
    ("登录IP地址：192.168.1.1", "登录IP地址：[IP]"),
    ("ping ::1.", "ping [IP]."),
    ("fe80::1ff:fe23:4567:890a is down", "[IP] is down"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP]"),
    ("ip:fe80::1", "ip:[IP]"),
    ("http://[2001:db8::1]:8080/status", "http://[[IP]]:8080/status"),
    ("mapped ::ffff:192.168.1.1", "mapped [IP]"),
])
def test_ip_addresses_are_replaced(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("login https://user:pass@host.com/x please", "login [URL] please"),
    ("see ftp://u:p@h now", "see [URL] now"),
    ("http://admin:pw@192.168.1.1/", "[URL]"),
    ("reset https://x.com/a?ref=1&access_token=abc#f ok", "reset [URL] ok"),
    ("https://x.com/cb#access_token=abc", "[URL]"),
    ("https://x.com/?accessToken=abc", "[URL]"),
    ("https://bucket.s3.com/f?X-Amz-Signature=ab12", "[URL]"),
    ("https://x.com/cart;jsessionid=AB12?x=1", "[URL]"),
    ("https://x.com/?PASSWORD=hunter2", "[URL]"),
    ("链接https://x.com/?api_key=1，谢谢", "链接[URL]，谢谢"),
])
def test_urls_with_credentials_are_replaced_whole(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("收件人：张三", "收件人：[NAME]"),
    ("收货人:李小明，电话13812345678", "收货人:[NAME]，电话[PHONE]"),
    ("姓名：王伟", "姓名：[NAME]"),
    ("联系人 赵六", "联系人 [NAME]"),
    ("收件人: Wei Zhang", "收件人: [NAME]"),
    ("name: John Smith", "name: [NAME]"),
    ("recipient: Mary O'Neil", "recipient: [NAME]"),
    ("Full name: 李雷", "Full name: [NAME]"),
    ("Order 12, name: John Smith; thanks", "Order 12, name: [NAME]; thanks"),
    ("contact person: Li Na", "contact person: [NAME]"),
    ("地址：上海市浦东新区XX路123号", "地址：[ADDRESS]"),
    ("收货地址: 北京市朝阳区建国路88号，靠近地铁站", "收货地址: [ADDRESS]，靠近地铁站"),
    ("address: 12 Baker St, London", "address: [ADDRESS]"),
    ("Shipping address: 12 Baker St, London; call me", "Shipping address: [ADDRESS]; call me"),
    ("deliver to address: 12 Larkspur Crescent", "deliver to address: [ADDRESS]"),
    ("送到 地址：青鸾街九十九号", "送到 地址：[ADDRESS]"),
    ("magnetic puzzle address: 376 George St, Sydney NSW 2000 | 2 pcs",
     "magnetic puzzle address: [ADDRESS] | 2 pcs"),
    ("headset Name: Emma Huang | YT4689329300762", "headset Name: [NAME] | YT4689329300762"),
    ("addr: Apt 19, 983 Baker St | barcode 8198543227393537", "addr: [ADDRESS] | barcode 8198543227393537"),
    ("call +33 1 69 58 56 56 or (010)23456789", "call [PHONE] or [PHONE]"),
    ("card 3493 922112 64123", "card [BANK_CARD]"),
    ("name: John Smith\naddress: 5 Main St\nphone: 13812345678",
     "name: [NAME]\naddress: [ADDRESS]\nphone: [PHONE]"),
])
def test_labelled_names_and_addresses_keep_the_label(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("email address: wei@example.com", "email address: [EMAIL]"),  # not [ADDRESS]
    ("IP address: 10.1.2.3", "IP address: [IP]"),
    ("https://u:p@mail.example.com", "[URL]"),                       # not u:[EMAIL]
])
def test_specific_detectors_win_over_labels_and_emails(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text", [
    "iPhone 15 Pro 256GB", "2019 running shoes", "order 2013812345678901", "size 42.5 EU",
    "order 110105194912310021",      # ID-shaped, wrong GB 11643 check digit
    "sku 4111111111111112",          # card-shaped, fails Luhn
    "order #202404018862121122",     # passes Luhn, but no issuer has 18-digit '20…' cards
    "discount +20% until 2025", "score +1 2",
    "Acme wireless headphones X200",
    "Nike Air Max 270", "2019", "5G router 1.2.3 firmware", "firmware v2.0.1.5",
    "bad ip 192.168.1.300", "chapter 1.2.3.4.5", "12:30:45 delivery", "Time:12:30",
    "model 2001:A Space Odyssey", "std::vector", "MAC 00:1A:2B:3C:4D:5E",
    "https://shop.example.com/item/123?color=red", "https://x.com/s?keyword=shoes&zipcode=10001",
    "Brand name: Nike Air", "Product name: iPhone 15", "Name - Wei Zhang", "contact lens 2019",
    "地址簿笔记本", "联系我们 客服", "订单号 20231201123456", "苹果 iPhone 15 Pro 256GB 黑色",
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
    once = scrub(["send to 13812345678 or a@b.cn", "收件人：张三 地址：上海市XX路1号 ip 10.0.0.1",
                  "name: John Smith; address: 12 Baker St https://u:p@h.com"])
    assert scrub(once) == once


def test_scrub_text_uses_only_ops_tf_serving_has():
    from serving import graph_ops
    graph = tf.function(text_scrubber.scrub_text).get_concrete_function(
        tf.TensorSpec([None], tf.string)).graph.as_graph_def()
    ops = {node.op for node in graph.node}
    ops.update(node.op for function in graph.library.function for node in function.node_def)
    servable = (set(dir(tf.raw_ops)) - graph_ops.NEVER_SERVABLE) | graph_ops.TF_TEXT_ALLOWLIST
    assert ops <= servable, ops - servable


def scrub_rows(texts, **identifiers):
    out = text_scrubber.scrub_row_identifiers(
        tf.constant(texts), {key: tf.constant(values) for key, values in identifiers.items()})
    return [t.decode() for t in out.numpy()]


def test_own_name_is_replaced_only_in_its_own_row():
    out = scrub_rows(["deliver to Wei Zhang", "gift for mr. li", "zhang brand kettle"],
                     name=["Wei Zhang", "Ming Li", ""])
    assert out == ["deliver to [NAME]", "gift for mr. [NAME]", "zhang brand kettle"]


def test_own_chinese_name_whole_or_given_name_but_never_one_character():
    out = scrub_rows(["送给张伟的礼物", "小明的生日礼物，李小明收", "李先生明天到", "李小明", "欧阳娜娜的包裹"],
                     name=["张伟", "李小明", "李小明", "", "欧阳娜娜"])
    assert out == ["送给[NAME]的礼物", "[NAME]的生日礼物，[NAME]收", "李先生明天到", "李小明",
                   "[NAME]的包裹"]


def test_own_name_in_both_scripts():
    assert scrub_rows(["张伟 Wei Zhang gift", "for zhang wei"], name=["张伟 Wei Zhang"] * 2) == [
        "[NAME] gift", "for [NAME] [NAME]"]


def test_own_phone_is_found_whatever_the_separators():
    text = ("call 13812345678, 138 1234 5678, +86 138-1234-5678, 0086 13812345678 or "
            "+8613812345678")
    assert scrub_rows([text], phone=["+86 138-1234-5678"]) == [
        "call [PHONE], [PHONE], [PHONE], [PHONE] or [PHONE]"]
    assert scrub_rows(["ring 415-555-0100 or +1 415 555 0100"], phone=["+1 415 555 0100"]) == [
        "ring [PHONE] or [PHONE]"]


def test_other_numbers_are_not_the_own_phone():
    assert scrub_rows(["order 99912345678, ref 13812345679, 123456", "call 138 1234 5678"],
                      phone=["13812345678", "123456"]) == [
        "order 99912345678, ref 13812345679, 123456", "call 138 1234 5678"]


def test_own_email_case_insensitive_and_before_the_name():
    out = scrub_rows(["mail WEI.Zhang3@Example-Mail.com, Wei", "aXb+tag@x.com"],
                     email=["wei.zhang3@example-mail.com", "a.b+tag@x.com"],
                     name=["Wei Zhang", ""])
    assert out == ["mail [EMAIL], [NAME]", "aXb+tag@x.com"]  # '.' and '+' are escaped


def test_own_address_whole_or_street_part():
    out = scrub_rows(["ship to 12 Baker St, London please", "leave at 12 baker st",
                      "寄到上海市浦东新区XX路123号", "London calling", "寄到上海市"],
                     address=["12 Baker St, London", "12 Baker St, London", "上海市浦东新区XX路123号",
                              "12 Baker St, London", "上海市浦东新区XX路123号"])
    assert out == ["ship to [ADDRESS] please", "leave at [ADDRESS]", "寄到[ADDRESS]",
                   "London calling", "寄到上海市"]


def test_rows_without_identifiers_are_unchanged():
    texts = ["Wei Zhang 13812345678 a@b.cn 12 Baker St", "张伟 上海市浦东新区"]
    empty = ["", " "]
    assert scrub_rows(texts, name=empty, phone=empty, email=empty, address=empty) == texts
    assert text_scrubber.scrub_row_identifiers(tf.constant(texts), {}).numpy().tolist() == [
        t.encode() for t in texts]


def test_identifiers_apply_in_a_traced_graph_and_unknown_fields_are_refused():
    spec = tf.TensorSpec([None], tf.string)
    scrub_fn = tf.function(lambda text, name, phone: text_scrubber.scrub_row_identifiers(
        text, {"name": name, "phone": phone}), input_signature=[spec] * 3)
    out = scrub_fn(tf.constant(["李小明 13812345678", "Ming Li"]), tf.constant(["李小明", "Ming Li"]),
                   tf.constant(["13812345678", ""]))
    assert out.numpy().tolist() == ["[NAME] [PHONE]".encode(), b"[NAME]"]
    with pytest.raises(ValueError, match="id_number"):
        text_scrubber.scrub_row_identifiers(tf.constant(["x"]), {"id_number": tf.constant(["1"])})


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


def test_released_columns_are_the_masked_rows_values_and_random_columns_are_refused(
        monkeypatch):
    """The masking executor sizes k-anonymity classes and the time split on one read
    (ReleasedColumns) and masks on another: both must release the same values."""
    import apache_beam as beam
    from apache_beam.testing import util as beam_testing

    from components.masking import policy, ptransform
    from privrec.data import generator, schema
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    key = pseudonymizer.load_key()
    tiny = policy.load(policy.TINY_POLICY)
    rows = generator.generate(generator.SIZES["tiny"])["interactions"][:300]
    columns = ["birth_date", "city", schema.TIMESTAMP, schema.ITEM_ID, schema.USER_ID]
    masked, _ = ptransform.make_mask_fn(tiny, key)(
        {c: tf.constant([r[c] for r in rows]) for c in tiny.columns})
    expected = [{c: ptransform._python_value(masked[c].numpy()[i]) for c in columns}
                for i in range(len(rows))]
    assert expected[0][schema.USER_ID] != rows[0][schema.USER_ID].encode()
    with beam.Pipeline() as p:
        released = p | beam.Create(rows) | ptransform.ReleasedColumns(tiny, key, columns)
        beam_testing.assert_that(released, beam_testing.equal_to(expected))
    with pytest.raises(ValueError, match=r"\['gender'\].*randomize"):
        ptransform.ReleasedColumns(tiny, key, ["city", "gender"])


@pytest.mark.parametrize("text, expected", [
    ("电话 010 8888 6666", "电话 [PHONE]"),
    ("tel (010)88886666 ok", "tel [PHONE] ok"),
    ("（021）66668888", "[PHONE]"),
    ("call (0755) 2345 6789", "call [PHONE]"),
    ("0755-2345-6789，谢谢", "[PHONE]，谢谢"),
    ("021.6666.8888", "[PHONE]"),
    ("010 88886666 and 021 6666 8888", "[PHONE] and [PHONE]"),
    ("010 8888 6666 021 6666 8888", "[PHONE] [PHONE]"),
    ("手机138 1234 5678", "手机[PHONE]"),
    ("138.1234.5678", "[PHONE]"),
    ("138-1234-5678", "[PHONE]"),
    ("+86 138 1234 5678", "[PHONE]"),
    ("+86 10 8888 6666", "[PHONE]"),
    ("手机：１３８１２３４５６７８。", "手机：[PHONE]。"),
    ("１３８ １２３４ ５６７８", "[PHONE]"),
    ("０１０－８８８８６６６６", "[PHONE]"),
    ("条码 6595 5210 7069 2215 0755-3949 0686", "条码 6595 5210 7069 2215 [PHONE]"),
])
def test_phones_as_chinese_users_type_them(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text", [
    "¥1388.00", "￥2999.00 包邮", "1388.00元", "iPhone 13 Pro 256GB", "RTX-4090", "RTX 4090",
    "DDR5 6000 32G", "订单号 3812345678901", "order no. 202405011234", "2024.05.01", "2024 05 01",
    "01-05-2024", "09:00-18:00", "周一至周五 9:30-18:30", "SKU 6222 0755 3456 7891",
    "条码 0689 6251 0763 6183", "１３８１２３４５６７８９", "型号Ａ１３８", "007 1234 5678",
])
def test_phone_lookalikes_survive(text):
    assert scrub([text]) == [text]


@pytest.mark.parametrize("text, expected", [
    ("tel +44 20 7371 2492 2021/01/17", "tel [PHONE] 2021/01/17"),
    ("+33664672424 12-02-2023", "[PHONE] 12-02-2023"),
    ("card 6264072491759053 38码", "card [BANK_CARD] 38码"),
])
def test_phones_and_cards_followed_by_a_date_or_size(text, expected):
    assert scrub([text]) == [expected]


@pytest.mark.parametrize("text, expected", [
    ("０２０－６５６１９０５３ １３２ ８９３０ ２９４３ |", "[PHONE] [PHONE] |"),
    ("手机：0571-2110-9074 2020/08/16 08:16", "手机：[PHONE] 2020/08/16 08:16"),
])
def test_two_numbers_side_by_side_are_two_phones(text, expected):
    assert scrub([text]) == [expected]
