"""Loads MovieLens into privrec's raw input schema: the 100K layout (u.data, u.item, u.user) or
the CSV layout of the newer releases (ratings.csv, movies.csv, optional tags.csv).

MovieLens has no direct identifiers and no search queries: those columns are left empty.
Ratings of 4-5 become 'purchase' events, the others 'click'. Read the data from where it lies
(e.g. ../shared/data/movielens-100k); its licence forbids copying it into the repository.
"""
import collections
import csv
import os
import re
from typing import Dict, List

from privrec.data import generator, schema, time_window

GENRES = ["unknown", "action", "adventure", "animation", "children", "comedy", "crime",
          "documentary", "drama", "fantasy", "film-noir", "horror", "musical", "mystery",
          "romance", "sci-fi", "thriller", "war", "western"]
DATA_YEAR = 1998  # MovieLens 100K was collected 1997-1998; ages are converted to birth years then
# MovieLens 100K's README: "collected ... during the seven-month period from September 19th, 1997
# through April 22nd, 1998": [1997-09-19, 1998-04-23) UTC, declared in time_window.json.
TIME_WINDOW_100K = time_window.TimeWindow(874627200, 893289600)
NO_GENRES = "(no genres listed)"  # the CSV layout's genre field of a movie without any
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _read(path: str, sep: str) -> List[List[str]]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: expected the MovieLens 100K layout "
                                "(u.data, u.item, u.user) in that folder")
    with open(path, encoding="latin-1") as f:
        return [line.rstrip("\n").split(sep) for line in f if line.strip()]


def title_year(title: str) -> str:
    """The year a MovieLens title ends with: 'Toy Story (1995)' -> '1995'; '' when it ends in
    none (e.g. 'Babylon 5')."""
    match = _TITLE_YEAR.search(title)
    return match.group(1) if match else ""


def genre_names(genres: str) -> List[str]:
    """A '|'-separated genre field (1M and CSV layouts) in GENRES' words: lower case,
    "Children's" as 'children'; ['unknown'] when it lists none."""
    names = [g.lower().replace("children's", "children") for g in genres.split("|")
             if g and g != NO_GENRES]
    return names or ["unknown"]


def movie(movie_id: str, title: str, genres: List[str], year: str) -> Dict[str, str]:
    """A catalog row of a movie: its genres are the description, the first the category, its
    year the brand."""
    return {"item_id": f"m{movie_id}", "title": title, "description": " ".join(genres),
            "category": genres[0], "brand": year, "price": "0.00"}


def load(ml_dir: str) -> Dict[str, List[Dict[str, str]]]:
    """Returns {'catalog': rows, 'interactions': rows} in the schema of privrec.data.schema."""
    catalog = []
    for fields in _read(os.path.join(ml_dir, "u.item"), "|"):
        genres = [g for g, flag in zip(GENRES, fields[5:24]) if flag == "1"] or ["unknown"]
        catalog.append(movie(fields[0], fields[1], genres, fields[2][-4:]))  # its release date
    users = {}
    for uid, age, gender, occupation, zip_code in _read(os.path.join(ml_dir, "u.user"), "|"):
        users[uid] = {"birth_date": f"{DATA_YEAR - int(age)}-01-01", "gender": gender,
                      "city": f"zip{zip_code[:3]}"}
    ratings = sorted((int(t), u, i, int(r)) for u, i, r, t in
                     _read(os.path.join(ml_dir, "u.data"), "\t"))
    history = collections.defaultdict(list)
    rows = []
    for t, uid, iid, rating in ratings:
        rows.append(interaction(t, uid, iid, rating, history[uid], user=users[uid]))
        history[uid].append(f"m{iid}")
    return {"catalog": catalog, "interactions": rows}


def interaction(t: int, uid: str, iid: str, rating: float, recent: List[str], query: str = "",
                user: Dict[str, str] = None) -> Dict[str, str]:
    return {"timestamp": str(t), "user_id": uid, "name": "", "phone": "", "email": "",
            "address": "", "birth_date": "", "gender": "", "city": "", **(user or {}),
            "order_amount": "", "query": query, "recent_item_ids": " ".join(recent[-5:]),
            "item_id": f"m{iid}", "event_type": "purchase" if rating >= 4 else "click"}


def load_csv_layout(ml_dir: str) -> Dict[str, List[Dict[str, str]]]:
    """The CSV layout (ml-latest, ml-25m …): movies.csv, ratings.csv and, if present, tags.csv,
    whose tags a user gave a movie become the query of that user's interaction with it. No
    demographics: the quasi-identifier columns stay empty."""
    def rows(name):
        path = os.path.join(ml_dir, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: expected the MovieLens CSV layout "
                                    "(ratings.csv, movies.csv, optional tags.csv) in that folder")
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    catalog = [movie(m["movieId"], m["title"], genre_names(m["genres"]), title_year(m["title"]))
               for m in rows("movies.csv")]
    tags = collections.defaultdict(list)
    if os.path.exists(os.path.join(ml_dir, "tags.csv")):
        for tag in rows("tags.csv"):
            tags[(tag["userId"], tag["movieId"])].append(tag["tag"])
    ratings = sorted((int(r["timestamp"]), r["userId"], r["movieId"], float(r["rating"]))
                     for r in rows("ratings.csv"))
    history = collections.defaultdict(list)
    interactions = []
    for t, uid, iid, rating in ratings:
        interactions.append(interaction(t, uid, iid, rating, history[uid],
                                        " ".join(tags.get((uid, iid), []))))
        history[uid].append(f"m{iid}")
    return {"catalog": catalog, "interactions": interactions}


def load_any(ml_dir: str) -> Dict[str, List[Dict[str, str]]]:
    """The 100K layout if u.data is there, the 1M layout if ratings.dat is (movielens_1m.py),
    else the CSV layout."""
    from privrec.data import movielens_1m
    if os.path.exists(os.path.join(ml_dir, "u.data")):
        return load(ml_dir)
    if movielens_1m.is_layout(ml_dir):
        return movielens_1m.load(ml_dir)
    return load_csv_layout(ml_dir)


def write_dataset(ml_dir: str, data_dir: str) -> str:
    """Converts MovieLens 100K at ml_dir into <data_dir>/catalog.csv and interactions/data.csv,
    with the data set's published collection period as its time window."""
    data = load(ml_dir)
    generator.write_csv(os.path.join(data_dir, schema.CATALOG_FILE), data["catalog"],
                        schema.CATALOG_COLUMNS)
    generator.write_csv(os.path.join(data_dir, schema.INTERACTIONS_DIR, "data.csv"),
                        data["interactions"], schema.INTERACTION_COLUMNS)
    time_window.write(os.path.join(data_dir, schema.INTERACTIONS_DIR), TIME_WINDOW_100K)
    return data_dir
