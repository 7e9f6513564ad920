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
