"""The public time window the train/eval split cuts (privrec/data/time_window.py): declared by
the data set or given to the run, never computed from the rows; rows outside it are clamped to
the first or last split by a rule of the row alone."""
import os

import pytest

from components.masking import malformed, time_split
from pipeline import configs
from privrec.app import cli
from privrec.data import generator, movielens, time_window


def test_parse_takes_dates_or_unix_seconds_and_names_the_flag_when_wrong():
    assert time_window.parse("2024-01-01,2024-04-01") == (1704067200, 1711929600)
    assert time_window.parse("1700000000,1705184000") == generator.TIME_WINDOW
    for bad in ("2024-01-01", "2024-04-01,2024-01-01", "yesterday,today"):
        with pytest.raises(ValueError, match="--time-window"):
            time_window.parse(bad)


def test_generated_and_movielens_windows_hold_their_data():
    times = [int(r["timestamp"]) for r in
             generator.generate(generator.SIZES["tiny"])["interactions"]]
    start, end = generator.TIME_WINDOW
    assert start <= min(times) and max(times) < end
    # MovieLens 100K's README: September 19th, 1997 through April 22nd, 1998.
    assert movielens.TIME_WINDOW_100K == time_window.parse("1997-09-19,1998-04-23")


def test_the_data_declares_its_window_and_the_config_overrides_it(tmp_path):
    config = configs.local_config(str(tmp_path))
    assert config.time_windows == {}  # no data, no declaration: the ExampleGen will refuse
    generator.write_dataset(config.data_dir, "tiny")
    assert config.time_windows == {"0": list(generator.TIME_WINDOW)}
    given = configs.local_config(str(tmp_path), time_window=(10, 20))
    assert given.time_windows == {"*": [10, 20]}
    with pytest.raises(ValueError, match="PipelineConfig.time_window"):
        configs.local_config(str(tmp_path), time_window=(20, 10)).time_windows


def test_each_span_folder_declares_its_own_window(tmp_path):
    config = configs.local_config(str(tmp_path))
    for span, window in ((1, (100, 200)), (2, (200, 300))):
        folder = os.path.join(config.interactions_dir, f"span-{span}")
        generator.write_csv(os.path.join(folder, "data.csv"), [], ["timestamp"])
        time_window.write(folder, time_window.TimeWindow(*window))
    assert config.span_mode and config.time_windows == {"1": [100, 200], "2": [200, 300]}


def test_split_is_a_rule_of_the_row_and_the_window():
    shares = time_split.upper_shares_of(_splits(9, 1))
    window = (1000, 2000)
    assert [time_split.split_index(t, window, shares)
            for t in (0, 1000, 1899, 1900, 1999, 10**9)] == [0, 0, 0, 1, 1, 1]
    assert time_split.cut_offs(window, shares) == [1900]
    assert [time_split.window_side(t, window) for t in (999, 1000, 1999, 2000)] == [
        "before", "inside", "inside", "after"]


def test_missing_window_is_refused_naming_the_flag_and_the_file():
    with pytest.raises(malformed.InputDataError, match=r"--time-window START,END.*"
                       r"PipelineConfig.time_window.*time_window.json"):
        time_split.split_window({}, 0, "/data/interactions")
    with pytest.raises(malformed.InputDataError, match=r"span 3.*span-3 folder"):
        time_split.split_window({"1": [0, 10]}, 3, "/d")
    assert time_split.split_window({time_split.ANY_SPAN: [0, 10]}, 3, "/d") == (0, 10)


def test_privrec_run_on_own_data_without_a_window_names_the_flag(tmp_path):
    data_dir = str(tmp_path / "mine")
    generator.write_dataset(data_dir, "tiny")
    os.remove(os.path.join(data_dir, "interactions", time_window.FILE_NAME))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--work-dir", str(tmp_path), "--data-dir", data_dir, "--dev-key"])
    assert "--time-window START,END" in str(exit_.value.code)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--work-dir", str(tmp_path), "--data-dir", data_dir,
                  "--time-window", "2024-02-30x,2024-03-01"])
    assert "--time-window" in str(exit_.value.code)


def _splits(*buckets):
    from tfx.proto import example_gen_pb2
    return [example_gen_pb2.SplitConfig.Split(name=f"s{i}", hash_buckets=b)
            for i, b in enumerate(buckets)]
