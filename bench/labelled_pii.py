"""Seeded generator of labelled texts for the masking benchmark (bench/masking.py), and a quick
privrec-only recall report (`main`).

Each text is product words (English or Chinese) plus zero or more PII spans of known type and
exact character span, plus hard negatives that look like PII but are not (order numbers with a
wrong GB 11643 check digit, SKUs that fail Luhn, model numbers, sizes, prices, years, dates,
tracking numbers, and numbers grouped like phones: '¥1388.00', 'RTX-4090', '2024.05.01',
'09:00-18:00'). Same (n, seed) -> same texts.

Types: email, phone (CN mobile compact or grouped 3-4-4 by spaces, dashes or dots, with or
without +86/0086; CN landline with the area code followed by a dash, space or dot or inside
ASCII/full-width parentheses, the local number compact or grouped; numbers in full-width
digits; international +CC numbers), id_number (GB 11643-valid), bank_card (Luhn-valid, grouped
or not), ip (IPv4, IPv6), url (with credentials or a token), name and address (each after a
label such as "收件人：" / "name: " / "地址：" / "address: "; the span is the value after the
label).

    .venv/bin/python bench/labelled_pii.py --rows 20000 --json out/labelled_pii.json

prints privrec's recall per type and per format variant, and how many hard negatives of each
kind survived intact (bench/masking.py compares with Presidio and times both).
"""
import argparse
import dataclasses
import json
import os
import string
import sys
from typing import List, Tuple

import numpy as np

from privrec.data import generator
from privrec.data.checksums import gb11643_check_digit, luhn_valid, with_luhn_digit

TYPES = ("email", "phone", "id_number", "bank_card", "ip", "url", "name", "address")
STRUCTURED_TYPES = ("email", "phone", "id_number", "bank_card", "ip", "url")


@dataclasses.dataclass
class Labelled:
    text: str
    spans: List[Tuple[int, int, str]]       # planted PII: (start, end, type)
    negatives: List[Tuple[int, int, str]]   # hard negatives: (start, end, kind)
    subtypes: List[str]                     # format variant of each planted span


ZH_PRODUCTS = ["无线蓝牙耳机", "降噪耳机", "运动跑鞋", "防水登山鞋", "不粘锅", "电热水壶",
               "儿童积木", "遥控汽车", "保湿精华", "防晒霜", "瑜伽垫", "太阳能庭院灯", "无谷狗粮",
               "豆腐猫砂", "双卡双待手机", "充电宝", "机械键盘", "保温杯"]
ZH_BRANDS = ["华为", "小米", "李宁", "安踏", "美的", "苏泊尔", "得力", "罗技"]
ZH_PHRASES = ["求推荐", "有货吗", "什么时候发货", "麻烦尽快发货", "请开发票", "退货", ""]
EN_PHRASES = ["is this in stock", "please ship asap", "refund for", "gift for mom", "need invoice",
              ""]
ZH_SURNAMES = ["张", "王", "李", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
               "胡", "郭", "何", "林", "欧阳", "司马"]
ZH_GIVEN = ["伟", "芳", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
            "秀英", "小明", "建国", "雨桐", "子轩", "一鸣", "晓燕", "三"]
ZH_PLACES = [("上海市", "浦东新区", ["世纪大道", "张杨路", "陆家嘴环路"]),
             ("北京市", "朝阳区", ["建国路", "望京街", "三里屯路"]),
             ("广东省深圳市", "南山区", ["科技园南路", "深南大道"]),
             ("浙江省杭州市", "西湖区", ["文三路", "天目山路"]),
             ("四川省成都市", "锦江区", ["春熙路", "红星路"]),
             ("江苏省南京市", "鼓楼区", ["中山北路", "湖南路"])]
EN_PLACES = [("London", "Baker St", "NW1 6XE"), ("New York", "5th Ave", "NY 10118"),
             ("Berlin", "Torstrasse", "10119"), ("San Francisco", "Market St", "CA 94103"),
             ("Toronto", "King St W", "ON M5V 1J1"), ("Sydney", "George St", "NSW 2000")]
ID_REGIONS = ["110101", "110105", "310115", "440305", "330106", "510104", "320106", "420102"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "example-mail.com",
                 "corp.example.com.cn", "sina.cn", "mail.example.co.uk"]
URL_HOSTS = ["shop.example.com", "www.example.cn", "track.example-logistics.com",
             "api.example.org", "m.example.com.cn"]

LABELS = {
    "zh": {"email": ["邮箱：", "email:", "发到", ""], "phone": ["电话：", "手机：", "手机号", "联系电话 ", ""],
           "id_number": ["身份证号：", "身份证 ", "证件号码：", ""],
           "bank_card": ["卡号：", "银行卡 ", "用卡", ""], "ip": ["登录IP：", "IP地址 ", ""],
           "url": ["链接：", "网址 ", ""],
           "name": ["收件人：", "收件人:", "收货人：", "联系人：", "姓名："],
           "address": ["地址：", "收货地址：", "地址:", "送货地址："]},
    "en": {"email": ["email: ", "contact me at ", "mail ", ""],
           "phone": ["call ", "phone: ", "tel ", "mobile: ", ""],
           "id_number": ["ID no. ", "id number ", "ID: ", ""],
           "bank_card": ["card ", "pay with card ", "card no: ", ""],
           "ip": ["from IP ", "ip: ", "login from ", ""], "url": ["see ", "link: ", "tracking: ", ""],
           "name": ["name: ", "Name: ", "recipient: ", "contact: "],
           "address": ["address: ", "Address: ", "shipping address: ", "addr: "]},
}
SEPARATORS = {"zh": ["，", "；", " ", "。"], "en": [", ", "; ", " ", " | "]}


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _digits(rng, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _group(number: str, sizes, sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(number[i:i + size])
        i += size
    return sep.join(part for part in out if part)


# ---- PII values: (text, subtype) -------------------------------------------------------------

def email(rng, lang):
    given, surname = _pick(rng, generator.GIVEN).lower(), _pick(rng, generator.SURNAMES).lower()
    local = _pick(rng, [f"{given}.{surname}{rng.integers(1, 999)}", f"{given}{rng.integers(10, 99)}",
                        f"{given}_{surname}", f"{surname}.{given}+shop",
                        str(rng.integers(10**5, 10**10))])  # numeric QQ-style mailbox
    return f"{local}@{_pick(rng, EMAIL_DOMAINS)}", "email"


CN_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150",
                      "151", "152", "153", "155", "156", "157", "158", "159", "166", "173", "175",
                      "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
                      "189", "191", "198", "199"]
US_AREA_CODES = ["212", "213", "305", "312", "404", "415", "503", "512", "617", "646", "702", "206"]


FULLWIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")
CN_AREA_CODES = ["010", "021", "020", "025", "0755", "0571", "028", "0512", "0731"]


def cn_mobile(rng):
    """As people type a Chinese mobile: compact or grouped 3-4-4 by spaces, dashes or dots,
    optionally after +86 / 0086."""
    number = _pick(rng, CN_MOBILE_PREFIXES) + _digits(rng, 8)
    sep = _pick(rng, ["", "", " ", "-", "."])
    body = _group(number, (3, 4, 4), sep) if sep else number
    prefix = "" if sep == "." else _pick(rng, ["", "", "", "+86", "+86 ", "+86-", "0086 "])
    if prefix:
        return prefix + body, "cn_mobile_cc"
    return body, {"": "cn_mobile", " ": "cn_mobile_grouped", "-": "cn_mobile_grouped",
                  ".": "cn_mobile_dotted"}[sep]


def cn_landline(rng):
    """Area code + local number (8 digits, or 7 after a 4-digit area code), separated by a
    dash, space or dot or the area code in ASCII or full-width parentheses; the local number
    compact or grouped (4-4 / 3-4) by the same separator."""
    area = _pick(rng, CN_AREA_CODES)
    n_local = 8 if len(area) == 3 or rng.random() < 0.7 else 7
    local = str(rng.integers(2, 9)) + _digits(rng, n_local - 1)
    grouped = (n_local - 4, 4)
    form = rng.random()
    if form < 0.3:
        return f"{area}-{local}", "cn_landline"
    if form < 0.45:
        return _pick(rng, [f"({area}){local}", f"（{area}）{local}", f"({area}) {local}",
                           f"({area}) {_group(local, grouped, ' ')}"]), "cn_landline_paren"
    if form < 0.7:
        return _pick(rng, [f"{area} {local}", f"{area} {_group(local, grouped, ' ')}"]), \
            "cn_landline_spaced"
    if form < 0.85:
        return f"{area}-{_group(local, grouped, '-')}", "cn_landline_dashed"
    return _pick(rng, [f"{area}.{_group(local, grouped, '.')}", f"{area}.{local}"]), \
        "cn_landline_dotted"


def fullwidth(rng):
    """A mobile or landline typed with full-width digits (a Chinese IME's full-width mode)."""
    if rng.random() < 0.7:
        number = _pick(rng, CN_MOBILE_PREFIXES) + _digits(rng, 8)
        text = _pick(rng, [number, _group(number, (3, 4, 4), " "), _group(number, (3, 4, 4), "-")])
    else:
        text = f"{_pick(rng, CN_AREA_CODES)}-{rng.integers(2, 9)}{_digits(rng, 7)}"
    return text.translate(FULLWIDTH_DIGITS), "cn_fullwidth"


def phone(rng, lang):
    """Numbers in allocated ranges (mobile prefixes, area codes), so validating detectors see
    real-looking numbers, written the ways people type them."""
    kind = rng.random()
    if kind < 0.45:
        return cn_mobile(rng)
    if kind < 0.52:
        return fullwidth(rng)
    if kind < 0.75:
        return cn_landline(rng)
    # International numbers, as people write them (E.164 compact, or grouped per country)
    area, exchange = _pick(rng, US_AREA_CODES), rng.integers(201, 1000)
    while exchange in (555, 311, 411, 511, 611, 711, 811, 911):
        exchange = rng.integers(201, 1000)
    choices = [f"+1 {area} {exchange} {_digits(rng, 4)}", f"+1-{area}-{exchange}-{_digits(rng, 4)}",
               f"+1{area}{exchange}{_digits(rng, 4)}",
               f"+44 20 {rng.integers(7000, 8000)} {_digits(rng, 4)}",
               f"+447{rng.integers(700, 1000)}{_digits(rng, 6)}",
               f"+49 30 {rng.integers(2, 10)}{_digits(rng, 7)}",
               f"+49 15{_pick(rng, ['1', '2', '7'])} {rng.integers(1, 10)}{_digits(rng, 7)}",
               f"+81 3-{rng.integers(1000, 10000)}-{_digits(rng, 4)}",
               f"+81 90 {rng.integers(1000, 10000)} {_digits(rng, 4)}",
               f"+33 1 {rng.integers(10, 100)} {rng.integers(10, 100)} {rng.integers(10, 100)} "
               f"{rng.integers(10, 100)}",
               f"+336{rng.integers(1, 9)}{_digits(rng, 7)}",
               f"+65 {_pick(rng, ['6', '8', '9'])}{_digits(rng, 3)} {_digits(rng, 4)}",
               f"+852 {_pick(rng, ['2', '3', '6', '9'])}{_digits(rng, 3)} {_digits(rng, 4)}",
               f"+86 {_pick(rng, ['10', '21', '755'])} {rng.integers(2, 9)}{_digits(rng, 3)} "
               f"{_digits(rng, 4)}"]
    return _pick(rng, choices), "international"


def id_number(rng, lang):
    birth = f"{rng.integers(1950, 2006)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body = _pick(rng, ID_REGIONS) + birth + _digits(rng, 3)
    return body + gb11643_check_digit(body), "gb11643"


def bank_card(rng, lang):
    kind = rng.random()
    if kind < 0.05:  # American Express, 15 digits, written 4-6-5
        number = with_luhn_digit(_pick(rng, ["34", "37"]) + _digits(rng, 12))
        sizes, subtype = (4, 6, 5), "amex"
    elif kind < 0.20:  # UnionPay debit, 19 digits
        number = with_luhn_digit("62" + _digits(rng, 16))
        sizes, subtype = (4, 4, 4, 4, 3), "unionpay19"
    else:  # UnionPay / Visa / Mastercard, 16 digits
        prefix = _pick(rng, ["62", "62", "4", f"5{rng.integers(1, 6)}"])
        number = with_luhn_digit(prefix + _digits(rng, 15 - len(prefix)))
        sizes, subtype = (4, 4, 4, 4), "card16"
    grouping = rng.random()
    if grouping < 0.5:
        return number, subtype
    return _group(number, sizes, " " if grouping < 0.85 else "-"), subtype + "_grouped"


def ip(rng, lang):
    kind = rng.random()
    if kind < 0.35:
        return f"{_pick(rng, ['192.168', '10.0', '172.16'])}.{rng.integers(0, 256)}." \
               f"{rng.integers(1, 255)}", "ipv4_private"
    if kind < 0.7:
        return ".".join(str(x) for x in [rng.integers(1, 224)] + list(rng.integers(0, 256, 3))), \
            "ipv4"
    groups = [f"{x:x}" for x in rng.integers(0, 65536, 8)]
    if kind < 0.85:
        return ":".join(groups), "ipv6_full"
    return _pick(rng, [f"2001:db8::{groups[0]}:{groups[1]}", f"fe80::{groups[2]}:{groups[3]}:"
                       f"{groups[4]}:{groups[5]}", f"2408:{groups[1]}:{groups[2]}::{groups[3]}"]), \
        "ipv6_compressed"


def _token(rng, n):
    alphabet = string.ascii_letters + string.digits
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


def url(rng, lang):
    host, user = _pick(rng, URL_HOSTS), _pick(rng, generator.GIVEN).lower()
    kind = int(rng.integers(5))
    if kind == 0:
        return f"https://{user}:{_token(rng, 10)}@{host}/orders/{rng.integers(10**5, 10**7)}", \
            "credentials"
    if kind == 1:
        return f"ftp://{user}:{_token(rng, 8)}@{host}/exports/orders.csv", "credentials"
    if kind == 2:
        return f"https://{host}/account/reset?token={_token(rng, 32)}", "token"
    if kind == 3:
        return f"http://{host}/p?uid={rng.integers(10**5, 10**8)}&sig={_token(rng, 20)}", "token"
    return f"https://{host}/api/v1/orders?access_token={_token(rng, 40)}&page=2", "token"


def name(rng, lang):
    if lang == "zh":
        return _pick(rng, ZH_SURNAMES) + _pick(rng, ZH_GIVEN), "zh"
    return f"{_pick(rng, generator.GIVEN)} {_pick(rng, generator.SURNAMES)}", "en"


def address(rng, lang):
    if lang == "zh":
        city, district, roads = _pick(rng, ZH_PLACES)
        text = f"{city}{district}{_pick(rng, roads)}{rng.integers(1, 1000)}号"
        detail = rng.random()
        if detail < 0.4:
            text += f"{rng.integers(1, 20)}栋{rng.integers(1, 6)}单元{rng.integers(101, 2600)}室"
        elif detail < 0.6:
            text += f"{rng.integers(1, 30)}号楼{rng.integers(101, 2600)}"
        return text, "zh"
    city, street, post = _pick(rng, EN_PLACES)
    number = rng.integers(1, 999)
    if city == "Berlin":
        return f"{street} {number}, {post} {city}", "en"
    unit = f"Apt {rng.integers(1, 40)}, " if rng.random() < 0.3 else ""
    return f"{unit}{number} {street}, {city} {post}", "en"


PII = {"email": email, "phone": phone, "id_number": id_number, "bank_card": bank_card, "ip": ip,
       "url": url, "name": name, "address": address}


# ---- hard negatives: (label + value text, kind) -----------------------------------------------

def order_number_bad_id_check(rng):
    """18-digit order number shaped like an ID number, with a wrong GB 11643 check digit."""
    body = f"{rng.integers(2019, 2025)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}" + \
        _digits(rng, 9)
    check = _pick(rng, [c for c in "0123456789X" if c != gb11643_check_digit(body)])
    return _pick(rng, ["订单号 ", "order #", "订单", ""]) + body + check, "id_bad_checksum"


def sku_luhn_fail(rng):
    while True:
        number = _digits(rng, int(_pick(rng, [13, 16, 16, 19])))
        if not luhn_valid(number):
            break
    if len(number) == 16 and rng.random() < 0.3:
        number = _group(number, (4, 4, 4, 4), " ")
    return _pick(rng, ["SKU ", "条码 ", "货号", "barcode ", ""]) + number, "sku_luhn_fail"


def model_number(rng):
    letters = string.ascii_uppercase
    return _pick(rng, [f"SM-G{rng.integers(9000, 10000)}", f"WH-1000XM{rng.integers(3, 6)}",
                       f"RTX {rng.integers(30, 50)}{_pick(rng, ['60', '70', '80', '90'])}",
                       f"XPS {rng.integers(9300, 9800)}", f"A{rng.integers(1000, 3000)}",
                       f"{_pick(rng, letters)}{_pick(rng, letters)}-{rng.integers(100, 9999)}",
                       f"型号{_pick(rng, letters)}{rng.integers(10, 999)}"]), "model_number"


def size(rng):
    return _pick(rng, [f"{rng.integers(35, 47)}码", f"EU {rng.integers(35, 47)}",
                       f"{rng.integers(13, 86)}英寸", f"{_pick(rng, ['1920x1080', '2560x1440', '3840x2160'])}",
                       f"{_pick(rng, [64, 128, 256, 512])}GB", f"{rng.integers(120, 220)}x200cm",
                       f"{rng.integers(4, 7)}.{rng.integers(1, 10)} inch", f"{rng.integers(250, 2000)}ml"]), \
        "size"


def price(rng):
    value = float(np.round(rng.lognormal(4.0, 1.0), 2))
    return _pick(rng, [f"¥{value:.0f}", f"￥{value:.2f}", f"${value:.2f}", f"{value:,.2f}元",
                       f"€{value:.2f}", f"USD {value:.0f}"]), "price"


def year(rng):
    y = rng.integers(2015, 2026)
    return _pick(rng, [f"{y}款", f"{y} edition", f"model year {y}", f"({y})"]), "year"


def date(rng):
    y, m, d = rng.integers(2019, 2026), rng.integers(1, 13), rng.integers(1, 29)
    return _pick(rng, [f"{y}-{m:02d}-{d:02d}", f"{y}/{m:02d}/{d:02d} {rng.integers(0, 24):02d}:"
                       f"{rng.integers(0, 60):02d}", f"{m}月{d}日", f"{d:02d}.{m:02d}.{y}"]), "date"


def tracking_number(rng):
    return _pick(rng, [f"SF{_digits(rng, 12)}", f"YT{_digits(rng, 13)}", f"JD{_digits(rng, 14)}"]), \
        "tracking_number"


def phone_lookalike(rng):
    """Numbers grouped like phones that are not: 4-digit prices with cents, dashed or spaced
    model numbers, dotted and spaced dates, business hours, 10-12 digit order numbers."""
    y, m, d = rng.integers(2019, 2026), rng.integers(1, 13), rng.integers(1, 29)
    return _pick(rng, [
        (_pick(rng, [f"¥{rng.integers(1000, 10000)}.00",
                     f"￥{rng.integers(100, 10000)}.{_digits(rng, 2)}",
                     f"{rng.integers(1000, 10000)}.00元"]), "price_with_cents"),
        (_pick(rng, [f"iPhone {rng.integers(11, 17)} Pro {_pick(rng, [128, 256, 512])}GB",
                     f"RTX-{rng.integers(30, 50)}{_pick(rng, ['60', '70', '80', '90'])}",
                     f"GB-{rng.integers(1000, 9999)}-{rng.integers(1000, 9999)}",
                     f"DDR5 {rng.integers(4800, 8000)} {_pick(rng, [16, 32, 64])}G"]),
         "model_number_grouped"),
        (_pick(rng, [f"{y}.{m:02d}.{d:02d}", f"{y} {m:02d} {d:02d}", f"{y}.{m}.{d}",
                     f"{d:02d}-{m:02d}-{y}"]), "date_grouped"),
        (_pick(rng, [f"{rng.integers(8, 11):02d}:00-{rng.integers(17, 23)}:00",
                     f"周一至周五 {rng.integers(8, 11)}:30-{rng.integers(17, 23)}:30"]),
         "business_hours"),
        (_pick(rng, ["订单号 ", "order no. ", "单号"]) + str(rng.integers(2, 10)) +
         _digits(rng, int(rng.integers(9, 12))), "order_number"),
    ])


NEGATIVES = (order_number_bad_id_check, sku_luhn_fail, model_number, size, price, year, date,
             tracking_number, phone_lookalike, phone_lookalike)


def _product(rng, lang):
    if lang == "zh":
        text = (_pick(rng, ZH_BRANDS) if rng.random() < 0.6 else "") + _pick(rng, ZH_PRODUCTS)
        return (text + " " + _pick(rng, ZH_PHRASES)).strip()
    category = _pick(rng, sorted(generator.CATEGORIES))
    adjectives, nouns = generator.CATEGORIES[category]
    text = f"{_pick(rng, generator.BRANDS)} {_pick(rng, adjectives)} {_pick(rng, nouns)}"
    return (_pick(rng, EN_PHRASES) + " " + text).strip()


def _row(rng) -> Labelled:
    lang = "zh" if rng.random() < 0.5 else "en"
    n_pii = int(rng.choice(4, p=[0.25, 0.45, 0.2, 0.1]))
    n_neg = int(rng.choice(3, p=[0.5, 0.35, 0.15]))
    items = [("pii", t) for t in rng.choice(TYPES, size=n_pii)] + \
        [("neg", NEGATIVES[i]) for i in rng.integers(0, len(NEGATIVES), n_neg)]
    order = rng.permutation(len(items))
    text = _product(rng, lang)
    spans, negatives, subtypes = [], [], []
    for i in order:
        what, which = items[i]
        text += _pick(rng, SEPARATORS[lang])
        if what == "pii":
            label = _pick(rng, LABELS[lang][which])
            value, subtype = PII[which](rng, lang)
            start = len(text) + len(label)
            text += label + value
            spans.append((start, start + len(value), str(which)))
            subtypes.append(subtype)
        else:
            value, kind = which(rng)
            negatives.append((len(text), len(text) + len(value), kind))
            text += value
    if rng.random() < 0.3:
        text += _pick(rng, SEPARATORS[lang]) + _product(rng, lang)
    return Labelled(text, spans, negatives, subtypes)


def generate(n: int, seed: int = 13) -> List[Labelled]:
    """n labelled texts; every planted span's text occurs exactly once in its text."""
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        row = _row(rng)
        if all(row.text.count(row.text[s:e]) == 1 for s, e, _ in row.spans):
            rows.append(row)
    return rows


def negatives_intact(rows, outputs):
    """{kind: (intact, total)}: hard negatives whose text is still in the scrubbed output."""
    counts = {}
    for row, out in zip(rows, outputs):
        for start, end, kind in row.negatives:
            intact, total = counts.get(kind, (0, 0))
            counts[kind] = (intact + (row.text[start:end] in out), total + 1)
    return dict(sorted(counts.items()))


def recall_by_subtype(rows, outputs, placeholder):
    """{type/subtype: (recalled, planted)}, recalled as bench/masking.py counts it: the span's
    text is gone and the type's placeholder is in the output."""
    counts = {}
    for row, out in zip(rows, outputs):
        for (start, end, kind), subtype in zip(row.spans, row.subtypes):
            key = f"{kind}/{subtype}"
            recalled, planted = counts.get(key, (0, 0))
            hit = row.text[start:end] not in out and placeholder[kind] in out
            counts[key] = (recalled + hit, planted + 1)
    return dict(sorted(counts.items()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="labelled texts to generate")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--examples", type=int, default=3, help="misses to print per type")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench import masking  # TensorFlow and the scrubber: only when run, not on import

    rows = generate(args.rows, args.seed)
    scrubber = masking.PrivrecScrubber(batch_size=4096)
    outputs = scrubber.decode(scrubber.run([r.text for r in rows]))
    scored = masking.score(rows, outputs, args.examples)
    subtypes = recall_by_subtype(rows, outputs, masking.PLACEHOLDER)
    negatives = negatives_intact(rows, outputs)

    print(f"privrec scrubber on {len(rows)} labelled texts (seed {args.seed})")
    print(f"{'type':<34}{'planted':>9}{'recall':>9}")
    for kind in TYPES:
        print(f"{kind:<34}{scored['planted'][kind]:>9}"
              f"{masking._fmt(scored['recall'][kind], '.4f'):>9}")
    print(f"\n{'format variant':<34}{'planted':>9}{'recall':>9}")
    for key, (recalled, planted) in subtypes.items():
        print(f"{key:<34}{planted:>9}{recalled / planted:>9.4f}")
    print(f"\n{'hard negative':<34}{'total':>9}{'intact':>9}")
    for kind, (intact, total) in negatives.items():
        print(f"{kind:<34}{total:>9}{intact / total:>9.4f}")
    print(f"\nprecision of replacements {masking._fmt(scored['precision'], '.4f')}, "
          f"false positives by kind {scored['false_positives_by_kind']}")
    for kind, examples in scored["examples"]["missed"].items():
        for e in examples:
            print(f"  missed {kind}: {e['span']!r} in {e['text']!r} -> {e['output']!r}")
    if args.json:
        report = {"rows": len(rows), "seed": args.seed, "types": list(TYPES),
                  "recall": scored["recall"], "planted": scored["planted"],
                  "precision": scored["precision"],
                  "false_positives_by_kind": scored["false_positives_by_kind"],
                  "recall_by_subtype": {k: {"recalled": r, "planted": p, "recall": r / p}
                                        for k, (r, p) in subtypes.items()},
                  "negatives_intact": {k: {"intact": i, "total": t, "share": i / t}
                                       for k, (i, t) in negatives.items()},
                  "examples": scored["examples"]}
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(masking._finite_or_none(report), f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
