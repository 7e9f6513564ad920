"""Unique canary PII planted in the tiny run's raw input: every detector type, every column role.

Canary user A lives in a populous equivalence class, so its rows are released (masked); canary
user B has canary quasi-identifiers that put it alone in a class, so k-anonymity suppresses its
quasi-identifier cells (its rows are released with "*" there, everything else masked).
After the run, none of `NEEDLES` may appear anywhere (tests/e2e/test_pipeline_e2e.py).
"""
import csv
import os

from privrec.data import schema
from privrec.data.checksums import gb11643_check_digit, with_luhn_digit


ID_NUMBER = "11010519310713987" + gb11643_check_digit("11010519310713987")
BANK_CARD = with_luhn_digit("621234567890123")
A = {"user_id": "canary-user-A-5f1c", "name": "Zephyrine Quillfeather",
     "phone": "+86 139-8765-4321", "email": "zephyrine.quill@canary-mail.org",
     "address": "77 Canaryhollow Lane, Shanghai", "birth_date": "1985-03-17", "gender": "F",
     "city": "Shanghai"}
B = {"user_id": "canary-user-B-9e2d", "name": "龙卡纳", "phone": "13712398765",
     "email": "longkana@canary-mail.org", "address": "金丝雀路88号", "birth_date": "1901-02-03",
     "gender": "M", "city": "Canaryville"}
IPV4, IPV6 = "203.0.113.77", "2001:db8:85a3::8a2e:370:7334"
URL = "https://quill:s3cretCanary@canary.example.org/orders?token=CanaryTok9"
A_QUERIES = [
    f"headphones send to {A['phone']}", "shoes mail me at zephyrine.quill@canary-mail.org",
    f"invoice id {ID_NUMBER} kettle", f"pay with card {BANK_CARD}", f"router ip {IPV4} {IPV6}",
    f"tracking {URL}", "gift for Zephyrine Quillfeather", "收件人：司马青鸾 地址：青鸾街九十九号",
    "name: Octavian Brightwater deliver to address: 12 Larkspur Crescent",
    "dumbbells 77 Canaryhollow Lane",
]
B_QUERIES = ["给龙卡纳买耳机", "卡纳的跑鞋"]
TIMESTAMP = 1700123457
ORDER_AMOUNT = "424242.42"

NEEDLES = ([v for user in (A, B) for k, v in user.items() if k not in ("gender", "city")]
           + ["Canaryville", "Quillfeather", "Zephyrine", "Canaryhollow", "卡纳", "8765-4321",
              "87654321", ID_NUMBER, BANK_CARD, IPV4, IPV6, "s3cretCanary", "CanaryTok9",
              "司马青鸾", "青鸾街", "Octavian", "Brightwater", "Larkspur", str(TIMESTAMP),
              ORDER_AMOUNT, "1985-03-17"])


def rows(template: dict):
    """Canary interaction rows, shaped like `template` (a generated row, for item ids)."""
    out = []
    for user, queries in ((A, A_QUERIES), (B, B_QUERIES)):
        for i, query in enumerate(queries):
            out.append({**template, **user, schema.TIMESTAMP: str(TIMESTAMP + i),
                        schema.QUERY: query, schema.ORDER_AMOUNT: ORDER_AMOUNT,
                        schema.EVENT_TYPE: "purchase"})
    return out


def plant(interactions_dir: str) -> None:
    """Writes canary.csv next to the generated interactions (ExampleGen reads *.csv)."""
    with open(os.path.join(interactions_dir, "data.csv"), newline="", encoding="utf-8") as f:
        generated = list(csv.DictReader(f))
    raw = open(os.path.join(interactions_dir, "data.csv"), encoding="utf-8").read()
    assert not [n for n in NEEDLES if n in raw], "a canary is not unique to the canary rows"
    path = os.path.join(interactions_dir, "canary.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(schema.INTERACTION_COLUMNS))
        writer.writeheader()
        writer.writerows(rows(generated[len(generated) // 2]))
