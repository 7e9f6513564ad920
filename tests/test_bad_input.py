"""Bad input stops the run at ingestion with a message naming the column, before training."""
import os

import pytest

from components.masking import pseudonymizer
from pipeline import configs, local_runner
from privrec.data import generator, schema


def _run_on(tmp_path, rows, columns):
    config = configs.local_config(str(tmp_path), allow_dev_key=True, train_steps=2)
    data = generator.generate(generator.SIZES["tiny"])
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    generator.write_csv(os.path.join(config.interactions_dir, "data.csv"), rows, columns)
    with pytest.raises(Exception) as failure:
        local_runner.run(config, printer=lambda line: None)
    for later in ("Transform", "Trainer"):
        assert not os.path.exists(os.path.join(config.pipeline_root, later)), later
    return str(failure.value)


def _rows():
    return generator.generate(generator.SIZES["tiny"])["interactions"][:200]


def test_missing_column_is_named(tmp_path):
    rows = _rows()
    columns = [c for c in schema.INTERACTION_COLUMNS if c != schema.QUERY]
    for r in rows:
        del r[schema.QUERY]
    message = _run_on(tmp_path, rows, columns)
    assert "missing column(s) query" in message and "data.csv" in message


def test_non_numeric_timestamp_names_line_and_column(tmp_path):
    rows = _rows()
    rows[41][schema.TIMESTAMP] = "2024-01-01T10:00"
    message = _run_on(tmp_path, rows, schema.INTERACTION_COLUMNS)
    assert "line 43" in message and "'timestamp'" in message
    assert "not an integer Unix time" in message


def test_unknown_column_has_no_masking_rule(tmp_path):
    rows = _rows()
    for r in rows:
        r["passport"] = "E12345678"
    message = _run_on(tmp_path, rows, list(schema.INTERACTION_COLUMNS) + ["passport"])
    assert "passport" in message and "no role in masking policy" in message
    assert "E12345678" not in message


def test_missing_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(pseudonymizer.KEY_ENV, raising=False)
    monkeypatch.delenv(pseudonymizer.KEY_FILE_ENV, raising=False)
    config = configs.local_config(str(tmp_path), train_steps=2)
    generator.write_dataset(config.data_dir, "tiny")
    with pytest.raises(Exception, match="no pseudonymisation key"):
        local_runner.run(config, printer=lambda line: None)
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))


def test_value_outside_the_randomisation_domain_names_line_and_column(tmp_path):
    rows = _rows()
    rows[9]["gender"] = "Female (self-described)"
    message = _run_on(tmp_path, rows, schema.INTERACTION_COLUMNS)
    assert "line 11" in message and "'gender'" in message and "domain" in message
    assert "self-described" not in message  # values of policy columns are never echoed


def test_too_much_k_anonymity_suppression_stops_the_run_with_advice(tmp_path, monkeypatch):
    """80 users over the default policy's 10-year bands: too many users alone in a class."""
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    config = configs.local_config(str(tmp_path), train_steps=2)  # default policy, k_min 5
    generator.write_dataset(config.data_dir, "tiny")
    with pytest.raises(Exception, match=r"k-anonymity: \d+ of 3000 rows .* fewer than k_min=5 "
                       r"users over birth_date, city.*Generalise more") as failure:
        local_runner.run(config, printer=lambda line: None)
    assert "masking_report.html" in str(failure.value)
    assert not os.path.exists(os.path.join(config.pipeline_root, "StatisticsGen"))
