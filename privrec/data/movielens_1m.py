"""Loads MovieLens 1M (the `::` layout: ratings.dat, movies.dat, users.dat) into privrec's raw
input schema (privrec.data.schema), for the masking policy policies/movielens_1m.yaml.

users.dat's columns go to the input columns that say what they are, raw, for masking to treat:
  UserID   -> user_id     (pseudonymised)
  Gender   -> gender      (F/M: sensitive, randomised response once per user)
  Age      -> birth_date  (the bracket, e.g. 'age 25-34': ML-1M has no birth date; a
                           quasi-identifier, generalised to coarser brackets)
  Zip-code -> city        ('zip' + the zip code as given, e.g. 'zip48067'; a quasi-identifier,
                           generalised to its first digit, the US zip region)
Occupation has no input column and is not read: a quasi-identifier nothing downstream uses is
better never ingested. Titles are Latin-1 (README.md of the data). Every rating is 4 or 5 in the
positives-only copy: each is a 'purchase'. Read the data from where it lies (e.g.
../shared/data/movielens-1m-positives); its licence forbids copying it into the repository.
"""
import collections
import hashlib
import os
from typing import Dict, Iterator, List, Optional, Tuple

from privrec.data import generator, movielens, schema, time_window

FILES = ("ratings.dat", "movies.dat", "users.dat")
SEPARATOR = "::"
# README.grouplens: "Age is chosen from the following ranges".
AGE_BRACKETS = {"1": "age under 18", "18": "age 18-24", "25": "age 25-34", "35": "age 35-44",
                "45": "age 45-49", "50": "age 50-55", "56": "age 56+"}
GENDERS = ("F", "M")
# README.grouplens: the 6,040 users "joined MovieLens in 2000": the public window is that year,
# [2000-01-01, 2001-01-01) UTC. The ratings those users gave later (2001 to 2003, ~8 % of the
# rows) are after it and go to the last (eval) split, counted in the masking report.
TIME_WINDOW_1M = time_window.TimeWindow(946684800, 978307200)


class MalformedLineError(ValueError):
    """A line of a .dat file is not in the MovieLens 1M layout."""


def is_layout(ml_dir: str) -> bool:
    """Whether ml_dir holds the MovieLens 1M layout (ratings.dat)."""
    return os.path.exists(os.path.join(ml_dir, "ratings.dat"))


def in_sample(user_id: str, user_share: float) -> bool:
    """Whether a user is in the user-sampled slice of this share: a fixed hash of the id, so a
    user is in or out with all their rows, and a larger share's slice holds a smaller one's."""
    digest = hashlib.sha256(f"movielens-1m:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < user_share * 2**64


def _lines(ml_dir: str, name: str, fields: Tuple[str, ...]) -> Iterator[Tuple[str, int, List]]:
    """(location, line number, fields) of each non-empty line; a line with the wrong number of
    fields is a MalformedLineError naming file, line and the layout expected."""
    path = os.path.join(ml_dir, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: expected the MovieLens 1M layout "
                                f"({', '.join(FILES)}) in that folder")
    with open(path, encoding="latin-1", newline="") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split(SEPARATOR)
            if len(parts) != len(fields):
                raise MalformedLineError(
                    f"{path}, line {number}: {len(parts)} '::'-separated field(s), expected "
                    f"{len(fields)} ({SEPARATOR.join(fields)}): {line[:80]!r}; fix or remove "
                    "the line")
            yield f"{path}, line {number}", number, parts


def _check(ok: bool, where: str, field: str, value: str, expected: str) -> None:
    if not ok:
        raise MalformedLineError(f"{where}: field {field} is {value!r}, expected {expected}; "
                                 "fix or remove the line")


def _catalog(ml_dir: str) -> List[Dict[str, str]]:
    catalog = []
    for where, _, (movie_id, title, genres) in _lines(ml_dir, "movies.dat",
                                                      ("MovieID", "Title", "Genres")):
        _check(movie_id.isdigit(), where, "MovieID", movie_id, "a number")
        catalog.append(movielens.movie(movie_id, title, movielens.genre_names(genres),
                                       movielens.title_year(title)))
    return catalog


def _users(ml_dir: str) -> Dict[str, Dict[str, str]]:
    users = {}
    fields = ("UserID", "Gender", "Age", "Occupation", "Zip-code")
    for where, _, (uid, gender, age, _occupation, zip_code) in _lines(ml_dir, "users.dat", fields):
        _check(uid.isdigit(), where, "UserID", uid, "a number")
        _check(gender in GENDERS, where, "Gender", gender, "F or M")
        _check(age in AGE_BRACKETS, where, "Age", age,
               f"a bracket code ({', '.join(AGE_BRACKETS)})")
        _check(bool(zip_code.strip()), where, "Zip-code", zip_code, "a zip code")
        users[uid] = {"birth_date": AGE_BRACKETS[age], "gender": gender,
                      "city": f"zip{zip_code.strip()}"}
    return users


def load(ml_dir: str, user_share: float = 1.0) -> Dict[str, List[Dict[str, str]]]:
    """{'catalog': rows, 'interactions': rows} in the schema of privrec.data.schema; with
    user_share < 1, only the users in_sample (all of their ratings). Interactions are in time
    order (ties in the file's order); each carries the user's previous five movies."""
    if not 0 < user_share <= 1:
        raise ValueError(f"user_share must be in (0, 1], got {user_share}")
    catalog = _catalog(ml_dir)
    movies = {row["item_id"] for row in catalog}
    users = _users(ml_dir)
    ratings = []
    fields = ("UserID", "MovieID", "Rating", "Timestamp")
    for where, _, (uid, iid, rating, t) in _lines(ml_dir, "ratings.dat", fields):
        _check(uid in users, where, "UserID", uid, "a user of users.dat")
        _check(f"m{iid}" in movies, where, "MovieID", iid, "a movie of movies.dat")
        _check(rating in ("1", "2", "3", "4", "5"), where, "Rating", rating, "1 to 5")
        _check(t.isdigit(), where, "Timestamp", t, "Unix seconds")
        if user_share == 1 or in_sample(uid, user_share):
            ratings.append((int(t), uid, iid, int(rating)))
    ratings.sort(key=lambda r: r[0])  # stable: a user's ties keep the file's order
    history = collections.defaultdict(list)
    rows = []
    for t, uid, iid, rating in ratings:
        rows.append(movielens.interaction(t, uid, iid, rating, history[uid], user=users[uid]))
        history[uid].append(f"m{iid}")
    return {"catalog": catalog, "interactions": rows}


def write_dataset(ml_dir: str, data_dir: str, user_share: float = 1.0,
                  data: Optional[Dict[str, List[Dict[str, str]]]] = None) -> str:
    """Converts MovieLens 1M at ml_dir (or its `data` already loaded) into <data_dir>/
    catalog.csv and interactions/data.csv, with TIME_WINDOW_1M as the time window."""
    data = data or load(ml_dir, user_share)
    generator.write_csv(os.path.join(data_dir, schema.CATALOG_FILE), data["catalog"],
                        schema.CATALOG_COLUMNS)
    generator.write_csv(os.path.join(data_dir, schema.INTERACTIONS_DIR, "data.csv"),
                        data["interactions"], schema.INTERACTION_COLUMNS)
    time_window.write(os.path.join(data_dir, schema.INTERACTIONS_DIR), TIME_WINDOW_1M)
    return data_dir
