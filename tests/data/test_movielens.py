import os

import pytest

from privrec.data import movielens, schema, time_window

from tests.support.paths import ROOT

ML_DIR = os.path.join(ROOT, "..", "shared", "data", "movielens-100k")


@pytest.mark.skipif(not os.path.exists(ML_DIR), reason="../shared/data/movielens-100k absent")
def test_movielens_loads_into_the_input_schema(tmp_path):
    data = movielens.load(ML_DIR)
    assert len(data["interactions"]) == 100000
    assert len(data["catalog"]) == 1682
    assert len({r["user_id"] for r in data["interactions"]}) == 943
    first = data["interactions"][0]
    assert set(first) == set(schema.INTERACTION_COLUMNS) and first["recent_item_ids"] == ""
    timestamps = [int(r["timestamp"]) for r in data["interactions"]]
    assert timestamps == sorted(timestamps)
    movielens.write_dataset(ML_DIR, str(tmp_path))
    assert (tmp_path / "interactions" / "data.csv").stat().st_size > 1_000_000
    # The published collection period is the declared window, and it holds every rating.
    window = time_window.read(str(tmp_path / "interactions"))
    assert window == movielens.TIME_WINDOW_100K
    assert window.start <= timestamps[0] and timestamps[-1] < window.end


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="u.item"):
        movielens.load(str(tmp_path))


@pytest.mark.parametrize("title, year", [
    ("Toy Story (1995)", "1995"), ("City of Lost Children, The (1995)", "1995"),
    ("Some Film (2007) ", "2007"), ("Babylon 5", ""), ("Sci-Fi (Part 2)", "")])
def test_a_title_gives_its_year_or_none(title, year):
    assert movielens.title_year(title) == year


def test_genre_fields_use_the_100k_genre_words():
    assert movielens.genre_names("Animation|Children's|Comedy") == [
        "animation", "children", "comedy"]
    assert movielens.genre_names(movielens.NO_GENRES) == movielens.genre_names("") == ["unknown"]
    assert set(movielens.genre_names("Film-Noir|Sci-Fi|Children")) <= set(movielens.GENRES)


def test_csv_layout_catalog_rows_are_parsed_like_the_other_layouts(tmp_path):
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n1,Toy Story (1995),Animation|Children|Comedy\n'
        '3,Babylon 5,Sci-Fi\n4,"Film, A (2007) ",(no genres listed)\n', encoding="utf-8")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,964982703\n",
                                          encoding="utf-8")
    catalog = movielens.load_any(str(tmp_path))["catalog"]
    assert catalog == [
        movielens.movie("1", "Toy Story (1995)", ["animation", "children", "comedy"], "1995"),
        movielens.movie("3", "Babylon 5", ["sci-fi"], ""),
        movielens.movie("4", "Film, A (2007) ", ["unknown"], "2007")]
    assert catalog[0] == {"item_id": "m1", "title": "Toy Story (1995)",
                          "description": "animation children comedy", "category": "animation",
                          "brand": "1995", "price": "0.00"}
