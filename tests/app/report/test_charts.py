"""privrec/app/report/charts.py: the SVG parsed back, one mark per data point, the labels."""
import re
import xml.etree.ElementTree as ET

import pytest

from privrec.app.report import charts

XLINK = "http://www.w3.org/1999/xlink"


def _parse(html_figure):
    """The <figure>: well-formed XML once xlink (whose declaration svg() strips) is bound."""
    assert html_figure.startswith(f"<figure class='{charts.CHART_CLASS}'><svg")
    assert "xmlns" not in html_figure and "<metadata>" not in html_figure
    return ET.fromstring(html_figure.replace("<svg", f"<svg xmlns:xlink='{XLINK}'", 1))


def _marks(figure):
    return [g for g in figure.iter("g") if g.get("id", "").startswith(charts.MARK)]


def _texts(figure):
    return {"".join(t.itertext()).strip() for t in figure.iter("text")}


def _points(path_d):
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", path_d)]
    return list(zip(numbers[::2], numbers[1::2]))


def _bar_height(mark):
    ys = [y for _, y in _points(mark.find("path").get("d"))]
    return max(ys) - min(ys)


def test_bars_one_mark_per_value_heights_in_proportion_and_labels():
    labels, series = ["alpha", "beta", "gamma"], {"run 1": [1.0, 2.0, 4.0],
                                                  "run 2": [3.0, 0.5, 2.0]}
    figure = _parse(charts.bars("ε <per> run", labels, series, "ε", "budget & spend",
                                limit=(3.5, "budget")))
    marks = _marks(figure)
    assert len(marks) == 6
    values = series["run 1"] + series["run 2"]
    heights = [_bar_height(m) for m in marks]
    for value, height in zip(values, heights):
        assert height / heights[0] == pytest.approx(value / values[0], rel=1e-3)
    fills = [re.search(r"fill: (#\w+)", m.find("path").get("style")).group(1) for m in marks]
    assert fills == [charts.COLORS[0]] * 3 + [charts.COLORS[1]] * 3
    assert {"alpha", "beta", "gamma", "run 1", "run 2", "budget", "ε <per> run", "ε"} \
        <= _texts(figure)
    assert figure.find("figcaption").text == "budget & spend"
    assert "budget &amp; spend" in charts.bars("t", ["x"], {"s": [1]}, "y", "budget & spend")


def test_a_single_series_has_no_legend_and_the_limit_is_not_a_mark():
    figure = _parse(charts.bars("t", ["x", "y"], {"only": [1.0, 1.0]}, "v", "c"))
    assert len(_marks(figure)) == 2 and "only" not in _texts(figure)
    with_limit = _parse(charts.bars("t", ["x", "y"], {"only": [1.0, 1.0]}, "v", "c",
                                    limit=(0.5, "floor")))
    assert len(_marks(with_limit)) == 2 and "floor" in _texts(with_limit)


def test_lines_one_mark_per_series_one_vertex_and_marker_per_point():
    xs, ys = [1, 2, 3, 4, 5], [0.1, 0.4, 0.2, 0.9, 0.5]
    figure = _parse(charts.lines("ROC", {"attack": (xs, ys), "flat": ([0, 1], [0.3, 0.3])},
                                 "false positives", "true positives", "c", diagonal=True,
                                 markers=True))
    marks = _marks(figure)
    assert len(marks) == 2
    points = _points(marks[0].find("path").get("d"))
    assert len(points) == len(xs)
    assert len(marks[0].findall(f".//use")) == len(xs)
    # SVG y grows downwards: the order of the drawn ys is the reverse of the data's.
    drawn = [y for _, y in points]
    assert sorted(range(5), key=lambda i: drawn[i]) == sorted(range(5), key=lambda i: -ys[i])
    assert {"attack", "flat", "chance", "false positives", "true positives", "ROC"} \
        <= _texts(figure)


def test_distribution_shares_of_top_values_and_histogram_steps():
    splits = {"train": {"top_values": [["a", 30], ["", 10]], "other_count": 20},
              "eval": {"top_values": [["a", 6], ["", 6]], "other_count": 0}}
    figure = _parse(charts.distribution("city", splits, "c"))
    marks = _marks(figure)
    assert len(marks) == 4
    heights = [_bar_height(m) for m in marks]
    shares = [30 / 60, 10 / 60, 6 / 12, 6 / 12]
    for share, height in zip(shares, heights):
        assert height / heights[0] == pytest.approx(share / shares[0], rel=1e-3)
    assert {"a", "(empty)", "train", "eval", "city", "share of examples"} <= _texts(figure)

    histogram = {"train": {"histogram": [[0, 10, 5], [10, 20, 15], [20, 30, 0]]}}
    figure = _parse(charts.distribution("amount", histogram, "c"))
    (mark,) = _marks(figure)
    levels = sorted({round(y, 3) for _, y in _points(mark.find("path").get("d"))})
    assert len(levels) == 3  # top to bottom: 15/20, 5/20 and the baseline (share 0)
    assert (levels[2] - levels[0]) / (levels[2] - levels[1]) == pytest.approx(3, rel=1e-3)


def test_dates_are_labelled_as_days():
    day = 86_400
    histogram = {"train": {"histogram": [[0, day * 10, 1], [day * 10, day * 20, 1]]}}
    texts = _texts(_parse(charts.distribution("ts", histogram, "c", dates=True)))
    assert any(re.fullmatch(r"1970-01-\d\d", t) for t in texts)


def test_reset_marks_makes_the_same_chart_twice_the_same():
    charts.reset_marks()
    first = charts.bars("t", ["x"], {"s": [1]}, "y", "c")
    charts.reset_marks()
    assert charts.bars("t", ["x"], {"s": [1]}, "y", "c") == first
    assert 'id="mark-0"' in first


def test_distribution_places_each_splits_bars_by_value_not_by_rank():
    """Each split's top values come ordered by its own counts: bars must line up by value."""
    splits = {"train": {"top_values": [["a", 30], ["b", 10]], "other_count": 0},
              "eval": {"top_values": [["b", 8], ["c", 2]], "other_count": 0}}
    figure = _parse(charts.distribution("city", splits, "c"))
    marks = _marks(figure)
    assert len(marks) == 6  # values a, b, c for each split
    heights = [_bar_height(m) for m in marks]
    shares = [30 / 40, 10 / 40, 0, 0, 8 / 10, 2 / 10]
    for share, height in zip(shares, heights):
        assert height / heights[0] == pytest.approx(share / shares[0], abs=1e-3)
    lefts = [min(x for x, _ in _points(m.find("path").get("d"))) for m in marks]
    # train's bar for b and eval's bar for b sit in the same slot (eval's is one width right).
    assert lefts[0] < lefts[3] < lefts[1] < lefts[4] < lefts[2] < lefts[5]
