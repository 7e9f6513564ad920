"""time_split.figures: the report's section names the window, the cut-offs and where rows
outside the window went."""
from tfx.proto import example_gen_pb2

from components.masking import time_split


def test_figures_name_the_window_the_cut_offs_and_the_outside_rows():
    splits = [example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b)
              for n, b in (("train", 3), ("valid", 1), ("eval", 1))]
    figures = time_split.figures((1000, 2000), splits, {"before": 2})
    assert figures["window"] == [1000, 2000]
    assert figures["cut_offs"] == {"train|valid": 1600, "valid|eval": 1800}
    assert (figures["rows_before_window"], figures["rows_after_window"]) == (2, 0)
    assert "split train" in figures["outside_rows"] and "split eval" in figures["outside_rows"]
