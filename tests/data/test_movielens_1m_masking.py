"""MovieLens 1M's users.dat columns under their masking policy: the generalised values are the
curated schema's, and k-anonymity over them holds on the full set and on a user sample."""
import collections

import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.masking import generalize, policy
from pipeline import configs
from privrec.data import movielens_1m
from tests.data.test_movielens_1m import ML_1M_DIR, needs_data

RULES = policy.load(policy.MOVIELENS_1M_POLICY)
QUASI = RULES.k_anonymity.quasi_identifiers


@pytest.fixture(scope="module")
def raw():
    return movielens_1m.load(ML_1M_DIR)["interactions"]


@pytest.fixture(scope="module")
def released(raw):
    """Full-set rows with the policy's generalised quasi-identifiers (on distinct values)."""
    rows = raw
    out = [dict(r) for r in rows]
    for column in QUASI:
        distinct = sorted({r[column] for r in rows})
        general = generalize.generalizer(RULES.columns[column].params)(tf.constant(distinct))
        mapping = dict(zip(distinct, (v.decode() for v in general.numpy())))
        for row in out:
            row[column] = mapping[row[column]]
    return out


def _domains():
    with open(configs.CURATED_SCHEMAS[policy.MOVIELENS_1M_POLICY], encoding="utf-8") as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    return {d.name: set(d.value) for d in schema.string_domain}


@needs_data
def test_released_values_are_in_the_curated_schema(released):
    domains = _domains()
    for column in QUASI + ["gender"]:
        values = {r[column] for r in released}
        assert values <= domains[column], (column, values - domains[column])
    assert {r["city"] for r in released} == {f"zip{d}" for d in range(10)}
    assert len({r["birth_date"] for r in released}) == 4


def _suppressed_share(rows):
    users = collections.defaultdict(set)
    for r in rows:
        users[tuple(r[c] for c in QUASI)].add(r["user_id"])
    small = {cls for cls, members in users.items() if len(members) < RULES.k_anonymity.k_min}
    return sum(tuple(r[c] for c in QUASI) in small for r in rows) / len(rows)


@needs_data
def test_k_anonymity_suppresses_little(raw, released):
    assert _suppressed_share(released) == 0  # every class of the full set has >= k_min users
    sample = [r for r in released if movielens_1m.in_sample(r["user_id"], 0.08)]
    assert 0 < _suppressed_share(sample) < RULES.k_anonymity.max_suppressed_row_share
    raw_sample = [r for r in raw if movielens_1m.in_sample(r["user_id"], 0.08)]
    assert _suppressed_share(raw_sample) > 0.5  # ungeneralised, most of it would be suppressed
