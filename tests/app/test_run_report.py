"""The run report of the tiny run: every section, its values read from the run's artifacts,
tables of words and numbers (no raw JSON), nothing fetched from the network; `privrec report`
rebuilds the same page."""
import glob
import json
import os
import re

from privrec.app.report import build, text
from tests.app import run_report

SECTIONS = {"summary": "Summary", "data": "Data", "masking": "Masking", "validation": "Validation",
            "privacy": "Training and privacy", "evaluation": "Evaluation",
            "release": "Release"}


def _section(html: str, key: str) -> str:
    start = html.index(f"id='{key}'")
    end = html.find("<section", start)
    return html[start:end if end > 0 else len(html)]


def _artifact_json(root: str, pattern: str):
    (path,) = glob.glob(os.path.join(root, pattern))
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _without_build_time(html: str) -> str:
    return re.sub(r"built \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", html)


def test_every_section_with_values_from_the_artifacts(tiny_run):
    config = tiny_run[0]
    html = open(run_report.page_of(tiny_run), encoding="utf-8").read()
    for key, title in SECTIONS.items():
        assert f"<section class='report-section' id='{key}'><h2>{title}</h2>" in html
    root = config.pipeline_root
    masking = _artifact_json(root, "MaskingExampleGen/masking_report/*/masking_report.json")
    placeholders = masking["columns"]["query"]["placeholders_inserted"]
    section = _section(html, "masking")
    assert placeholders, "the tiny run's canaries put PII in queries"
    for detector, count in placeholders.items():
        assert f"<td>{detector}</td><td class='num'>{text.number(count)}</td>" in section
    k = masking["k_anonymity"]
    assert f"<td>k required (k min)</td><td>{k['k_min']}</td>" in section
    for column, entry in masking["columns"].items():
        if entry.get("unit") == "user":
            assert f"ε {entry['epsilon']:g} per user" in section
    inventory = _artifact_json(root, "DataInventory/inventory/*/inventory.json")
    section = _section(html, "data")
    for name in inventory["columns"]:
        assert f"<td>{name}</td>" in section
    assert text.when(inventory["freshness"][0]["first"]) in section
    privacy = _artifact_json(root, "Trainer/model/*/Format-Serving/assets.extra/privacy.json")
    section = _section(html, "privacy")
    assert f"<td>{text.epsilon(privacy['epsilon'])}</td>" in section
    assert text.escape(privacy["epsilon_covers"]) in section
    assert "ε spent per run" in section
    assert f"<div class='tile-value'>{text.epsilon(privacy['epsilon'])}</div>" in \
        _section(html, "summary")
    section = _section(html, "evaluation")
    assert re.search(r"Recall@10</td><td class='num'>0\.\d+</td>", section)
    (pushed,) = glob.glob(os.path.join(config.serving_root, config.model_name, "*"))
    assert os.path.basename(pushed) in _section(html, "release")


def test_tables_hold_words_and_numbers_and_nothing_comes_from_the_network(tiny_run):
    html = open(run_report.page_of(tiny_run), encoding="utf-8").read()
    tables = re.findall(r"<table>.*?</table>", html, re.S)
    assert len(tables) > 10
    for table in tables:
        assert "{" not in table and not re.search(r'"\w+":', table), table[:500]
    assert "http" not in html
    assert "<script" not in html and "<link" not in html
    assert html.count("<svg") >= 8


def test_privrec_report_rebuilds_the_same_page(tiny_run, capsys):
    from privrec.app import cli
    page = run_report.page_of(tiny_run)
    before = open(page, encoding="utf-8").read()
    os.remove(page)
    cli.main(["report", "--work-dir", run_report.work_dir(tiny_run)])
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"[privrec] run report: {page}"
    assert page == build.path(run_report.work_dir(tiny_run))
    assert _without_build_time(open(page, encoding="utf-8").read()) == \
        _without_build_time(before)
