"""The run report in Chromium: no console errors, nothing fetched but the page itself, every
section's heading visible, every chart drawn; a screenshot (kept under test-artifacts/ by the
heavy variant)."""
import os

import pytest

from tests.app import report_browser, run_report
from tests.app.test_run_report import SECTIONS
from tests.support.paths import ROOT

ARTIFACTS = os.path.join(ROOT, "test-artifacts")


def _check(seen, page):
    assert seen["errors"] == []
    assert seen["requests"] == ["file://" + page]
    assert {key: title for key, (title, _) in seen["headings"].items()} == SECTIONS
    assert all(visible for _, visible in seen["headings"].values()), seen["headings"]
    assert len(seen["charts"]) >= 8
    for chart in seen["charts"]:
        assert chart["width"] > 100 and chart["height"] > 100, chart
        assert chart["drawn"] >= 1, chart  # bars, lines or steps of data, not just axes


def test_the_run_report_renders_in_chromium(tiny_run, tmp_path):
    page = run_report.page_of(tiny_run)
    shot = str(tmp_path / "run-report.png")
    _check(report_browser.inspect(page, shot, full_page=False), page)
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.heavy
def test_the_run_report_screenshot_is_kept(tiny_run):
    page = run_report.page_of(tiny_run)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "run-report.png")
    _check(report_browser.inspect(page, shot, full_page=True), page)
    assert os.path.getsize(shot) > 50_000
