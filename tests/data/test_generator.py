import collections
import re

from privrec.data import generator, schema


def test_same_seed_same_data_and_other_seed_other_data():
    size = generator.SIZES["tiny"]
    assert generator.generate(size, seed=3) == generator.generate(size, seed=3)
    assert generator.generate(size, seed=3) != generator.generate(size, seed=4)


def test_rows_have_the_schema_and_pii_typed_into_queries():
    data = generator.generate(generator.SIZES["small"])
    rows = data["interactions"]
    assert len(rows) == generator.SIZES["small"].interactions
    assert all(set(r) == set(schema.INTERACTION_COLUMNS) for r in rows)
    queries = [r["query"] for r in rows]
    assert any(re.search(r"1[3-9]\d{9}", q) for q in queries), "no Chinese mobile in queries"
    assert any("@" in q for q in queries), "no email in queries"
    assert any(re.search(r"\d{17}[\dX]", q) for q in queries), "no ID number in queries"
    assert any(r["name"] in r["query"] for r in rows), "no buyer name in queries"
    assert any(re.search(r"\b62\d{14}\b", q) for q in queries), "no bank card in queries"
    catalog_ids = {item["item_id"] for item in data["catalog"]}
    assert {r["item_id"] for r in rows} <= catalog_ids


def test_users_prefer_categories_and_items_are_skewed():
    data = generator.generate(generator.SIZES["small"])
    category = {item["item_id"]: item["category"] for item in data["catalog"]}
    per_user = collections.defaultdict(collections.Counter)
    for r in data["interactions"]:
        per_user[r["user_id"]][category[r["item_id"]]] += 1
    active = [c for c in per_user.values() if sum(c.values()) >= 20]
    top_share = sum(c.most_common(1)[0][1] / sum(c.values()) for c in active) / len(active)
    assert top_share > 0.4  # uniform over 10 categories would be ~0.1-0.2
    counts = collections.Counter(r["item_id"] for r in data["interactions"]).most_common()
    top_decile = sum(n for _, n in counts[:len(counts) // 10])
    assert top_decile / len(data["interactions"]) > 0.2  # popularity skew
