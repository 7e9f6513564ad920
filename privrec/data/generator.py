"""Deterministic generator of a realistic e-commerce search/browse log with PII.

Users carry direct identifiers (name, phone, email, address) and quasi-identifiers (birth date,
gender, city). Each user has latent preferences over categories and title words; items have a
Zipf popularity. Some typed queries contain PII the way people really type it.
"""
import csv
import dataclasses
import os
from typing import Dict, List, Optional

import numpy as np

from privrec.data import checksums, schema, time_window


@dataclasses.dataclass(frozen=True)
class Size:
    users: int
    items: int
    interactions: int


SIZES = {
    "tiny": Size(users=80, items=150, interactions=3000),
    "small": Size(users=1000, items=600, interactions=20000),
    "default": Size(users=4000, items=1500, interactions=100000),
    # bench/retrieval_quality.py: how user-level DP's cost moves with the number of users.
    "users20k": Size(users=20000, items=1500, interactions=300000),
}

CATEGORIES = {
    "headphones": (["wireless", "noise", "cancelling", "bluetooth", "over-ear", "earbuds", "bass"],
                   ["headphones", "earbuds", "headset"]),
    "phones": (["unlocked", "dual-sim", "5g", "fast-charging", "128gb", "256gb"],
               ["smartphone", "phone", "handset"]),
    "shoes": (["running", "trail", "leather", "waterproof", "lightweight", "hiking"],
              ["sneakers", "boots", "shoes", "trainers"]),
    "books": (["paperback", "hardcover", "illustrated", "classic", "bestselling"],
              ["novel", "cookbook", "biography", "guide"]),
    "kitchen": (["stainless", "nonstick", "ceramic", "electric", "cast-iron"],
                ["kettle", "pan", "knife", "blender", "wok"]),
    "toys": (["wooden", "educational", "remote-control", "plush", "magnetic"],
             ["blocks", "car", "puzzle", "robot", "bear"]),
    "beauty": (["organic", "hydrating", "matte", "vegan", "spf50"],
               ["lipstick", "serum", "moisturizer", "sunscreen"]),
    "sports": (["adjustable", "foldable", "anti-slip", "carbon", "insulated"],
               ["dumbbells", "yoga-mat", "racket", "bottle", "helmet"]),
    "garden": (["solar", "hanging", "heavy-duty", "ergonomic", "raised"],
               ["lamp", "planter", "hose", "shears", "bed"]),
    "pets": (["grain-free", "chew-proof", "orthopedic", "self-cleaning"],
             ["dog-food", "cat-litter", "leash", "pet-bed"]),
}
# The shop's log covers 60 days from this instant (interactions are drawn uniformly inside it):
# a public fact of the generated data set, declared in interactions/time_window.json.
START, DAYS = 1_700_000_000, 60
TIME_WINDOW = time_window.TimeWindow(START, START + DAYS * 86400)

BRANDS = ["Acme", "Nordvik", "Huaxin", "Lumio", "Kestrel", "Orchid", "Tianma", "Vela", "Zephyr",
          "Brightline", "Mokuba", "Redwood"]
SURNAMES = ["Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Smith",
            "Johnson", "Garcia", "Miller", "Brown", "Davis", "Martin", "Lopez"]
GIVEN = ["Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Hao", "Xiu", "Emma", "Liam", "Olivia",
         "Noah", "Sofia", "Lucas", "Mia", "Ethan", "Chloe", "Mateo"]
CITIES = [("Shanghai", "Pudong Ave"), ("Beijing", "Chaoyang Rd"), ("Shenzhen", "Nanshan Blvd"),
          ("Hangzhou", "Xihu St"), ("Chengdu", "Jinjiang Rd"), ("London", "Baker St"),
          ("Berlin", "Torstrasse"), ("New York", "5th Ave")]
PII_QUERY_TEMPLATES = [
    "send to {phone}", "{words} deliver to {name} {phone}", "contact me at {email}",
    "{words} invoice id {id_number}", "call {phone} about {words}", "{words} for {name}",
    "{words} pay with card {card}",
]


def _id_number(rng: np.random.Generator, birth: str) -> str:
    """A Chinese resident ID number with a valid GB 11643 checksum."""
    body = f"{rng.integers(110000, 659999)}{birth.replace('-', '')}{rng.integers(0, 999):03d}"
    return body + checksums.gb11643_check_digit(body)


def _bank_card(rng: np.random.Generator) -> str:
    """A 16-digit UnionPay-style card number with a valid Luhn check digit."""
    return checksums.with_luhn_digit("62" + "".join(str(d) for d in rng.integers(0, 10, 13)))


def _catalog(rng: np.random.Generator, n_items: int) -> List[Dict[str, str]]:
    names = sorted(CATEGORIES)
    items = []
    for i in range(n_items):
        category = names[i % len(names)]
        adjectives, nouns = CATEGORIES[category]
        adj = rng.choice(adjectives, size=2, replace=False)
        noun = rng.choice(nouns)
        brand = BRANDS[rng.integers(len(BRANDS))]
        model = f"{chr(65 + rng.integers(26))}{rng.integers(10, 999)}"
        items.append({
            "item_id": f"p{i:05d}",
            "title": f"{brand} {adj[0]} {adj[1]} {noun} {model}",
            "description": f"{adj[0].capitalize()} {noun} by {brand}, {adj[1]} design, model {model}.",
            "category": category,
            "brand": brand,
            "price": f"{float(np.round(rng.lognormal(3.5, 0.8), 2)):.2f}",
        })
    return items


def _users(rng: np.random.Generator, n_users: int) -> List[Dict[str, str]]:
    users = []
    for u in range(n_users):
        given, surname = GIVEN[rng.integers(len(GIVEN))], SURNAMES[rng.integers(len(SURNAMES))]
        city, street = CITIES[rng.integers(len(CITIES))]
        birth = f"{rng.integers(1955, 2006)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        if rng.random() < 0.8:  # Chinese mobile, typed with or without country code
            phone = f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}"
        else:
            phone = f"+1 {rng.integers(201, 989)} {rng.integers(200, 999)} {rng.integers(0, 9999):04d}"
        users.append({
            "user_id": f"user{u:06d}",
            "name": f"{given} {surname}",
            "phone": phone,
            "email": f"{given.lower()}.{surname.lower()}{u}@example-mail.com",
            "address": f"{rng.integers(1, 999)} {street}, {city}",
            "birth_date": birth,
            "gender": "F" if rng.random() < 0.5 else "M",
            "city": city,
        })
    return users


def generate(size: Size, seed: int = 7,
             interactions_seed: Optional[int] = None) -> Dict[str, List[Dict[str, str]]]:
    """Returns {'catalog': rows, 'interactions': rows}, identical for identical arguments.

    `interactions_seed`: new interactions of the same shop (catalog and users from `seed`), e.g.
    the data a model is fine-tuned on.
    """
    rng = np.random.default_rng(seed)
    catalog = _catalog(rng, size.items)
    users = _users(rng, size.users)
    if interactions_seed is not None:
        rng = np.random.default_rng([seed, interactions_seed])
    categories = sorted(CATEGORIES)
    by_category = {c: [i for i, it in enumerate(catalog) if it["category"] == c] for c in categories}
    popularity = 1.0 / np.arange(1, size.items + 1) ** 0.8  # Zipf-like skew
    popularity = popularity[rng.permutation(size.items)]
    title_words = [set(item["title"].lower().split()) for item in catalog]

    # Latent preferences: a few favourite categories and favourite words within them.
    category_pref = rng.dirichlet(np.full(len(categories), 0.15), size=size.users)
    adjectives = [w for c in categories for w in CATEGORIES[c][0]]
    word_pref = [set(rng.choice(adjectives, size=4)) for _ in range(size.users)]
    activity = rng.pareto(1.2, size.users) + 1.0  # heavy users and light users
    activity /= activity.sum()

    times = np.sort(rng.integers(TIME_WINDOW.start, TIME_WINDOW.end, size.interactions))
    history: Dict[int, List[str]] = {}
    rows = []
    for t in times:
        u = int(rng.choice(size.users, p=activity))
        user = users[u]
        category = categories[rng.choice(len(categories), p=category_pref[u])]
        candidates = by_category[category]
        weights = np.array([popularity[i] * (3.0 if title_words[i] & word_pref[u] else 1.0)
                            for i in candidates])
        item = catalog[candidates[rng.choice(len(candidates), p=weights / weights.sum())]]
        words = " ".join(rng.choice(item["title"].lower().split()[1:4], size=2, replace=False))
        query = ""
        if rng.random() < 0.7:
            query = words
            if rng.random() < 0.12:
                template = PII_QUERY_TEMPLATES[rng.integers(len(PII_QUERY_TEMPLATES))]
                query = template.format(phone=user["phone"], email=user["email"], name=user["name"],
                                        id_number=_id_number(rng, user["birth_date"]),
                                        card=_bank_card(rng), words=words)
        past = history.setdefault(u, [])
        event_type = "purchase" if rng.random() < 0.15 else "click"
        rows.append({
            "timestamp": str(int(t)), **user,
            "order_amount": item["price"] if event_type == "purchase" else "",
            "query": query, "recent_item_ids": " ".join(past[-5:]), "item_id": item["item_id"],
            "event_type": event_type,
        })
        past.append(item["item_id"])
    return {"catalog": catalog, "interactions": rows}


def write_csv(path: str, rows: List[Dict[str, str]], columns) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def write_dataset(data_dir: str, size_name: str = "default", seed: int = 7,
                  interactions_seed: Optional[int] = None) -> str:
    """Writes <data_dir>/catalog.csv, <data_dir>/interactions/data.csv and the log's public
    time window (interactions/time_window.json); returns data_dir."""
    data = generate(SIZES[size_name], seed, interactions_seed)
    write_csv(os.path.join(data_dir, schema.CATALOG_FILE), data["catalog"], schema.CATALOG_COLUMNS)
    write_csv(os.path.join(data_dir, schema.INTERACTIONS_DIR, "data.csv"), data["interactions"],
              schema.INTERACTION_COLUMNS)
    time_window.write(os.path.join(data_dir, schema.INTERACTIONS_DIR), TIME_WINDOW)
    return data_dir
