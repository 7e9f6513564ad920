"""The data asset inventory of the tiny run, checked against the masked examples themselves."""
import hashlib
import os
import subprocess
import sys

import ml_metadata as mlmd
import numpy as np
import pytest
from scipy import stats
from scipy.stats import contingency
from tfx import v1 as tfx

from components.inventory import classes, files, summary
from components.masking import policy as policy_lib
from tests.e2e.test_pipeline_e2e import _examples, _value

SPLITS = ("train", "eval")


@pytest.fixture(scope="module")
def inventory(tiny_run):
    config, *_ = tiny_run
    directory = summary.latest_uri(config.metadata_path)
    return files.read(directory), directory


@pytest.fixture(scope="module")
def columns(tiny_run):
    """{split: {column: [value or None per masked example]}}, read with tf.data."""
    config, *_ = tiny_run
    out = {}
    for split in SPLITS:
        examples = _examples(config, split)
        names = set().union(*(e.features.feature.keys() for e in examples))
        out[split] = {n: [_value(e, n) for e in examples] for n in names}
    return out


def _both(columns, a, b):
    """Values of a and b over all splits, where both have one."""
    pairs = [(x, y) for split in SPLITS for x, y in zip(columns[split][a], columns[split][b])
             if x is not None and y is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_per_column_figures_are_those_of_the_masked_examples(tiny_run, inventory, columns):
    config, *_ = tiny_run
    inv, _ = inventory
    min_count = config.inventory.min_value_count
    for split in SPLITS:
        data = columns[split]
        n = len(data["user_id"])
        figures = {name: c["splits"][split] for name, c in inv["columns"].items()
                   if c["released"]}
        assert set(figures) == set(data)
        assert all(f["examples"] == n for f in figures.values())
        amounts = [v for v in data["order_amount"] if v is not None]
        assert 0 < len(amounts) < n  # clicks have no amount
        assert figures["order_amount"]["completeness"] == pytest.approx(len(amounts) / n)
        queries = data["query"]
        assert 0 < queries.count(b"") == figures["query"]["empty"]
        assert figures["query"]["completeness"] == pytest.approx(
            sum(1 for q in queries if q) / n)
        for name in ("user_id", "item_id", "city", "birth_date", "recent_item_ids"):
            assert figures[name]["cardinality"] == len(set(data[name])), (split, name)
        assert figures["user_id"]["uniqueness"] == pytest.approx(len(set(data["user_id"])) / n)
        city = figures["city"]["top_values"]
        assert {v: c for v, c in city} == {v.decode(): data["city"].count(v)
                                           for v in set(data["city"])
                                           if data["city"].count(v) >= min_count}
        assert figures["order_amount"]["mean"] == pytest.approx(np.mean(amounts), rel=1e-4)
        timestamps = data["timestamp"]
        assert (figures["timestamp"]["min"], figures["timestamp"]["max"]) == (
            min(timestamps), max(timestamps))


def test_associations_match_a_recomputation_with_scipy(inventory, columns):
    inv, _ = inventory
    associations = inv["associations"]
    categorical = {tuple(a["columns"]): a for a in associations["categorical"]}
    numeric = {tuple(a["columns"]): a for a in associations["numeric"]}
    assert set(c for pair in categorical for c in pair) == {"birth_date", "city", "gender",
                                                             "event_type"}
    assert set(c for pair in numeric for c in pair) == {"timestamp", "order_amount",
                                                         "cold_start_item"}
    assert {"user_id", "query", "recent_item_ids", "item_id"} == set(associations["excluded"])
    for pair in (("birth_date", "city"), ("city", "gender"), ("event_type", "gender")):
        a, b = _both(columns, *pair)
        table = contingency.crosstab(a, b).count
        assert categorical[pair]["cramers_v"] == pytest.approx(
            contingency.association(table, method="cramer"), abs=1e-12)
        assert categorical[pair]["examples"] == len(a)
    assert categorical[("birth_date", "city")]["cramers_v"] > 0.05  # real, not degenerate
    x, y = _both(columns, "order_amount", "timestamp")
    entry = numeric[("order_amount", "timestamp")]
    assert entry["examples"] == len(x)
    assert entry["pearson"] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-9)
    assert entry["spearman"] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-9)
    flags = columns["train"]["cold_start_item"] + columns["eval"]["cold_start_item"]
    constant = len(set(flags)) == 1
    assert (numeric[("cold_start_item", "timestamp")]["pearson"] is None) == constant


def test_privacy_classes_follow_the_policy_and_withheld_values_are_absent(
        inventory, columns):
    inv, directory = inventory
    tiny = policy_lib.load(policy_lib.TINY_POLICY)
    for name, rule in tiny.columns.items():
        column = inv["columns"][name]
        assert column["privacy_class"] == classes.CLASSES[rule.role], name
        assert column["released"] == (rule.action != "drop"), name
    assert inv["columns"]["cold_start_item"]["privacy_class"] == "derived"
    assert inv["columns"]["user_id"]["privacy_class"] == "direct identifier"
    assert inv["columns"]["query"]["privacy_class"] == "free text"
    assert inv["columns"]["event_type"]["privacy_class"] == "behavioural"
    for name in ("user_id", "query", "recent_item_ids"):
        assert inv["columns"][name]["values_withheld"]
        assert all("top_values" not in f and "histogram" not in f
                   for f in inv["columns"][name]["splits"].values())
    assert inv["columns"]["gender"]["values_withheld"] is None
    written = b"".join(open(os.path.join(directory, f), "rb").read()
                       for f in (files.JSON_FILE, files.HTML_FILE))
    values = {v for split in SPLITS for name in ("user_id", "recent_item_ids", "query")
              for v in columns[split][name] if v and len(v) >= 8}
    assert len(values) > 100
    assert [v for v in values if v in written] == []


def test_html_page_has_a_plot_per_released_column(inventory):
    inv, directory = inventory
    page = open(os.path.join(directory, files.HTML_FILE), encoding="utf-8").read()
    released = [n for n, c in inv["columns"].items() if c["released"]]
    plots = page.split("<div class='column-plot'>")[1:]
    assert len(plots) == len(released) >= 10
    assert all(p.lstrip().startswith("<svg") and "</svg>" in p for p in plots)
    assert inv["lineage"]["masking_policy_sha256"] in page and "Cramér" in page


def test_lineage_and_freshness_come_from_the_examples_artifact(tiny_run, inventory, columns):
    config, *_ = tiny_run
    inv, _ = inventory
    store = mlmd.MetadataStore(
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    examples = max((a for a in store.get_artifacts_by_type("Examples")
                    if "/MaskingExampleGen/" in a.uri), key=lambda a: a.id)
    lineage = inv["lineage"]
    assert lineage["examples_uri"] == examples.uri
    assert lineage["span"] == examples.properties["span"].int_value
    for name in ("input_fingerprint", "masking_policy_version", "masking_policy_sha256",
                 "pseudonym_key_fingerprint"):
        assert lineage[name] == examples.custom_properties[name].string_value, name
    assert lineage["masking_policy_version"] == policy_lib.load(policy_lib.TINY_POLICY).version
    sources = sorted(name for name in os.listdir(config.interactions_dir)
                     if name.endswith(".csv"))  # beside them: time_window.json (public)
    assert [f["name"] for f in lineage["source_files"]] == sources == ["canary.csv", "data.csv"]
    for entry in lineage["source_files"]:
        with open(os.path.join(config.interactions_dir, entry["name"]), "rb") as f:
            assert entry["sha256"] == hashlib.sha256(f.read()).hexdigest()
    (span,) = inv["freshness"]
    for split in SPLITS:
        timestamps = columns[split]["timestamp"]
        first, last = span["splits"][split]["first"], span["splits"][split]["last"]
        assert (first, last) == (np.datetime64(min(timestamps), "s").astype(str) + "+00:00",
                                 np.datetime64(max(timestamps), "s").astype(str) + "+00:00")
    assert span["first"] == span["splits"]["train"]["first"]
    assert span["last"] == span["splits"]["eval"]["last"]


def test_privrec_inventory_prints_the_runs_summary(tiny_run, inventory, columns):
    config, *_ = tiny_run
    inv, directory = inventory
    work_dir = os.path.dirname(config.metadata_path)
    privrec = os.path.join(os.path.dirname(sys.executable), "privrec")
    printed = subprocess.run([privrec, "inventory", "--work-dir", work_dir],
                             capture_output=True, text=True, check=True).stdout
    users = "/".join(str(len(set(columns[s]["user_id"]))) for s in SPLITS)
    user_line = next(line for line in printed.splitlines() if line.startswith("user_id "))
    assert "direct identifier" in user_line and f" {users} " in user_line
    assert "withheld" in user_line
    v = inv["associations"]["categorical"][0]
    assert f"{' × '.join(v['columns'])}: Cramér's V {v['cramers_v']:.3f}" in printed
    assert inv["lineage"]["pseudonym_key_fingerprint"] in printed
    assert os.path.join(directory, files.HTML_FILE) in printed
    page = subprocess.run([privrec, "inventory", "--work-dir", work_dir, "--html"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert os.path.isfile(page) and page.endswith(files.HTML_FILE)
    missing = subprocess.run([privrec, "inventory", "--work-dir", str(config.data_dir)],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "no MLMD store" in missing.stderr
