"""The MovieLens 1M loader on the real files (read-only), checked against an independent parse
of the raw bytes and the counts of the data's README."""
import collections
import csv
import os

import pytest

from privrec.data import movielens, movielens_1m, schema, time_window

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ML_1M_DIR = os.path.join(os.path.dirname(REPO), "shared", "data", "movielens-1m-positives")
needs_data = pytest.mark.skipif(not os.path.exists(ML_1M_DIR),
                                reason="../shared/data/movielens-1m-positives absent")
FIRST_LINES = 3000


def raw_fields(name, limit=None):
    """Each line of a .dat file split on b'::' and decoded as Latin-1 (not via the loader)."""
    with open(os.path.join(ML_1M_DIR, name), "rb") as f:
        lines = f.read().splitlines()[:limit]
    return [[part.decode("latin-1") for part in line.split(b"::")] for line in lines]


@pytest.fixture(scope="module")
def data():
    return movielens_1m.load(ML_1M_DIR)


@needs_data
def test_counts_are_the_readmes(data):
    rows = data["interactions"]
    assert len(rows) == 575_281
    assert len({r["user_id"] for r in rows}) == 6_038
    assert len({r["item_id"] for r in rows}) == 3_533
    assert len(data["catalog"]) == 3_883
    assert all(set(r) == set(schema.INTERACTION_COLUMNS) for r in rows[:1000])
    assert {r["event_type"] for r in rows} == {"purchase"}  # positives only: ratings 4 and 5
    timestamps = [int(r["timestamp"]) for r in rows]
    assert timestamps == sorted(timestamps)


@needs_data
def test_first_lines_match_an_independent_split(data):
    users = {u: (g, a, z) for u, g, a, _, z in raw_fields("users.dat")}
    by_key = {(r["user_id"], r["item_id"], r["timestamp"]): r for r in data["interactions"]}
    history = collections.defaultdict(list)  # the file is sorted by user, then time
    for uid, iid, rating, t in raw_fields("ratings.dat", FIRST_LINES):
        row = by_key[(uid, f"m{iid}", t)]
        gender, age, zip_code = users[uid]
        assert int(rating) >= 4
        assert row["gender"] == gender and row["city"] == f"zip{zip_code}"
        assert row["birth_date"] == movielens_1m.AGE_BRACKETS[age]
        assert row["recent_item_ids"] == " ".join(history[uid][-5:])
        assert row["name"] == row["email"] == row["query"] == row["order_amount"] == ""
        history[uid].append(f"m{iid}")
    assert len(history) > 10


@needs_data
def test_latin1_titles_are_decoded(data):
    titles = {row["item_id"]: row["title"] for row in data["catalog"]}
    raw = raw_fields("movies.dat")
    assert [titles[f"m{movie_id}"] for movie_id, _, _ in raw] == [t for _, t, _ in raw]
    assert titles["m73"] == "Misérables, Les (1995)"
    accented = [t for t in titles.values() if not t.isascii()]
    assert len(accented) > 10 and not any("Ã" in t for t in accented)  # no UTF-8 mojibake


@needs_data
def test_a_user_sample_keeps_all_rows_of_its_users(data):
    full = collections.Counter(r["user_id"] for r in data["interactions"])
    sampled = movielens_1m.load(ML_1M_DIR, user_share=0.08)
    sample = collections.Counter(r["user_id"] for r in sampled["interactions"])
    assert 0.06 * len(full) < len(sample) < 0.10 * len(full)
    assert all(sample[u] == full[u] for u in sample)
    smaller = {u for u in full if movielens_1m.in_sample(u, 0.04)}
    assert smaller < set(sample)
    assert sampled["catalog"] == data["catalog"]  # the catalog is public: never sampled


@needs_data
def test_written_dataset_declares_its_window_and_round_trips_titles(tmp_path):
    movielens_1m.write_dataset(ML_1M_DIR, str(tmp_path), user_share=0.02)
    with open(tmp_path / schema.INTERACTIONS_DIR / "data.csv", newline="",
              encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and tuple(rows[0]) == schema.INTERACTION_COLUMNS
    window = time_window.read(str(tmp_path / schema.INTERACTIONS_DIR))
    assert window == movielens_1m.TIME_WINDOW_1M
    in_window = sum(window.start <= int(r["timestamp"]) < window.end for r in rows)
    assert 0.8 < in_window / len(rows) < 1  # 2001-2003 ratings fall after it, into eval
    with open(tmp_path / schema.CATALOG_FILE, newline="", encoding="utf-8") as f:
        assert "Misérables, Les (1995)" in {r["title"] for r in csv.DictReader(f)}


@needs_data
def test_load_any_tells_the_1m_layout(tmp_path):
    _copy_head(tmp_path)
    assert movielens.load_any(str(tmp_path)) == movielens_1m.load(str(tmp_path))


def _copy_head(tmp_path, lines=50):
    """movies.dat and users.dat, and the first lines of ratings.dat, into tmp_path."""
    for name in movielens_1m.FILES:
        with open(os.path.join(ML_1M_DIR, name), "rb") as src:
            kept = src.readlines()
        (tmp_path / name).write_bytes(b"".join(kept[:lines] if name == "ratings.dat" else kept))


@needs_data
@pytest.mark.parametrize("name, line, bad, message", [
    ("ratings.dat", 7, b"1::3186::4\n", r"ratings.dat, line 7: 3 '::'-separated field\(s\)"),
    ("users.dat", 3, b"3::X::25::15::55117\n", r"users.dat, line 3: field Gender is 'X'"),
    ("users.dat", 2, b"2::M::30::16::70072\n", r"users.dat, line 2: field Age is '30'"),
    ("movies.dat", 4, b"x::Waiting to Exhale (1995)::Comedy\n", r"movies.dat, line 4: field Mov"),
])
def test_a_malformed_line_is_named(tmp_path, name, line, bad, message):
    _copy_head(tmp_path)
    lines = (tmp_path / name).read_bytes().splitlines(keepends=True)
    lines[line - 1] = bad
    (tmp_path / name).write_bytes(b"".join(lines))
    with pytest.raises(movielens_1m.MalformedLineError, match=message):
        movielens_1m.load(str(tmp_path))


@needs_data
def test_a_rating_of_an_unknown_user_is_named(tmp_path):
    _copy_head(tmp_path)
    (tmp_path / "users.dat").write_bytes(b"")  # user 1 of ratings.dat line 1 is now unknown
    with pytest.raises(movielens_1m.MalformedLineError, match=r"ratings.dat, line 1: field User"):
        movielens_1m.load(str(tmp_path))


def test_a_missing_file_is_named(tmp_path):
    (tmp_path / "movies.dat").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="users.dat not found"):
        movielens_1m.load(str(tmp_path))
