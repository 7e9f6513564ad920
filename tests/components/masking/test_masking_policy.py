"""The masking policy and the pieces it drives: validation, generalisation, randomisation,
k-anonymity / l-diversity (a real Beam pipeline), and the report's freedom from raw values."""
import json
import math
import os
import pickle

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import yaml

from components.masking import generalize, policy, randomize, report
from components.masking.reidentification import KAnonymize


def _policy_file(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def test_shipped_policies_load_and_cover_the_input_schema():
    from privrec.data import schema
    for path in (policy.DEFAULT_POLICY, policy.TINY_POLICY, policy.TINY_AUDIT_POLICY,
                 policy.MOVIELENS_POLICY):
        loaded = policy.load(path)
        assert sorted(loaded.columns) == sorted(schema.INTERACTION_COLUMNS), path
        loaded.check_header(path, schema.INTERACTION_COLUMNS)
    tiny, default = policy.load(policy.TINY_POLICY), policy.load(policy.DEFAULT_POLICY)
    assert tiny.k_anonymity.k_min == 3 and default.k_anonymity.k_min == 5
    assert tiny.columns["city"] == default.columns["city"]  # inherited via `extends`
    assert tiny.sha256 != default.sha256
    assert policy.from_dict(tiny.source).sha256 == tiny.sha256  # survives the custom_config trip


@pytest.mark.parametrize("columns, message", [
    ("  a: {role: secret}", "unknown role 'secret'"),
    ("  a: {role: direct_identifier, action: hash}", "drop or pseudonymize"),
    ("  a: {role: quasi_identifier, generalize: {method: year_band}}", "needs width"),
    ("  a: {role: sensitive_attribute, randomize: {method: laplace, epsilon: 0, lower: 0, "
     "upper: 1}}", "epsilon must be > 0"),
    ("  a: {action: drop}", "needs a `role`"),
    ("  a: {role: quasi_identifier, generalize: {method: bucket, boundaries: [50, 10]}}",
     "increasing numbers"),
    ("  a: {role: sensitive_attribute, randomize: {method: gaussian, epsilon: 1, lower: 0, "
     "upper: 1}}", "needs delta"),
    ("  a: {role: sensitive_attribute, randomize: {method: gaussian, epsilon: 1, delta: 2, "
     "lower: 0, upper: 1}}", r"delta must be in \(0, 1\)"),
    ("  a: {role: sensitive_attribute, randomize: {method: laplace, epsilon: 1, lower: 0, "
     "upper: 1, unit: user}}", "unit must be row"),
    ("  a: {role: sensitive_attribute, randomize: {method: randomized_response, epsilon: 1, "
     "domain: [F, M], unit: person}}", "unit must be user or row"),
    ("  a: {role: sensitive_attribute, randomize: {method: laplace, epsilon: 1, lower: 0, "
     "upper: 1, granularity: 0}}", "granularity must be > 0"),
])
def test_invalid_policies_are_refused_with_the_column_named(tmp_path, columns, message):
    path = _policy_file(tmp_path, f"version: '1'\ncolumns:\n{columns}\n")
    with pytest.raises(policy.PolicyError, match=message) as failure:
        policy.load(path)
    assert "column 'a'" in str(failure.value)


def test_per_user_randomisation_needs_exactly_one_pseudonymised_user_column(tmp_path):
    gender = ("  g: {role: sensitive_attribute, randomize: {method: randomized_response, "
              "epsilon: 1, domain: [F, M]}}\n")
    path = _policy_file(tmp_path, f"version: '1'\ncolumns:\n{gender}")
    with pytest.raises(policy.PolicyError, match="exactly one pseudonymised column"):
        policy.load(path)
    path = _policy_file(tmp_path, f"version: '1'\ncolumns:\n{gender}"
                        "  u: {role: direct_identifier, action: pseudonymize}\n")
    loaded = policy.load(path)
    assert loaded.user_column == "u" and loaded.columns["g"].params["unit"] == "user"
    assert policy.load(policy.DEFAULT_POLICY).columns["order_amount"].params["unit"] == "row"


def test_k_anonymity_must_name_quasi_identifier_columns(tmp_path):
    path = _policy_file(tmp_path, "version: '1'\ncolumns:\n  a: {role: keep}\n"
                        "k_anonymity: {quasi_identifiers: [a], k_min: 2}\n")
    with pytest.raises(policy.PolicyError, match="'a', which is not a quasi_identifier"):
        policy.load(path)


def test_header_check_names_unknown_and_missing_columns():
    loaded = policy.load(policy.DEFAULT_POLICY)
    header = [c for c in loaded.columns if c != "query"] + ["passport"]
    with pytest.raises(policy.PolicyError, match="passport have no role"):
        loaded.check_header("x.csv", header)
    with pytest.raises(policy.PolicyError, match="missing column"):
        loaded.check_header("x.csv", [c for c in loaded.columns if c != "query"])


def _strings(tensor):
    return [v.decode() for v in tensor.numpy()]


def test_generalisation_methods():
    dates = tf.constant(["1987-05-02", "1990", "", "2005-12-31"])
    assert _strings(generalize.year_band(dates, 10)) == ["1980-1989", "1990-1999", "",
                                                         "2000-2009"]
    assert generalize.truncate_time(tf.constant(["1700000123"]), 3600).numpy().tolist() == [
        1699999200]
    assert _strings(generalize.prefix(tf.constant(["zip021", "上海市浦东"]), 3)) == ["zip", "上海市"]
    to_region = generalize.generalizer({"method": "map", "mapping": {"Berlin": "Europe"},
                                        "default": "other"})
    assert _strings(to_region(tf.constant(["Berlin", "Atlantis", ""]))) == ["Europe", "other", ""]
    prices = tf.constant(["3.5", "20", "49.99", "120", "", "-1"])
    assert _strings(generalize.bucket(prices, [10, 50, 100])) == [
        "<10", "[10,50)", "[10,50)", ">=100", "", "<10"]
    ages = generalize.generalizer({"method": "bucket", "boundaries": [18, 30, 45, 65]})
    assert _strings(ages(tf.constant(["17", "18", "64", "90"]))) == [
        "<18", "[18,30)", "[45,65)", ">=65"]


def _generator():
    return tf.random.Generator.from_non_deterministic_state()


def test_randomized_response_keeps_the_true_value_at_the_stated_rate():
    n, epsilon = 20000, 1.0
    released = _strings(randomize.randomized_response(tf.constant(["F"] * n), epsilon,
                                                      ["F", "M", "X"], _generator()))
    expected = math.exp(epsilon) / (math.exp(epsilon) + 2)
    assert abs(released.count("F") / n - expected) < 0.02
    assert abs(released.count("M") - released.count("X")) / n < 0.03
    assert set(released) == {"F", "M", "X"}


def test_per_user_randomized_response_keeps_the_true_value_at_the_stated_rate_over_users():
    from components.masking import pseudonymizer
    n, epsilon = 20000, 1.0
    key = pseudonymizer.PseudonymKey((0x1234567, 0x7654321), "test", False)
    users = tf.constant([f"u{i}" for i in range(n)])
    released = _strings(randomize.randomized_response_per_user(
        tf.constant(["F"] * n), users, "gender", epsilon, ["F", "M", "X"], key))
    expected = math.exp(epsilon) / (math.exp(epsilon) + 2)
    assert abs(released.count("F") / n - expected) < 0.02
    assert abs(released.count("M") - released.count("X")) / n < 0.03


def test_laplace_noise_has_the_stated_scale_and_keeps_missing_values_missing():
    n = 20000
    noised = randomize.laplace(tf.constant(["100"] * n + [""]), 2.0, 0.0, 500.0, 0.01,
                               _generator()).numpy()
    assert np.isnan(noised[-1])
    # Laplace(b): mean absolute deviation = b = (upper - lower) / epsilon = 250.
    assert abs(np.mean(np.abs(noised[:-1] - 100.0)) - 250.0) < 15.0
    clipped = randomize.laplace(tf.constant(["1e9"] * n), 50.0, 0.0, 500.0, 0.01,
                                _generator()).numpy()
    assert abs(np.median(clipped) - 500.0) < 2.0  # clipped to the upper bound before noise


def test_gaussian_noise_is_calibrated_to_epsilon_delta_and_keeps_missing_values_missing():
    n, epsilon, delta = 20000, 1.0, 1e-6
    sigma = randomize.gaussian_stddev(epsilon, delta, 0.0, 500.0)
    # Tighter than the classic bound Δ·sqrt(2 ln(1.25/δ))/ε, and spent exactly (PLD accountant).
    assert sigma < 500.0 * math.sqrt(2 * math.log(1.25 / delta)) / epsilon
    from dp_accounting import GaussianDpEvent
    from dp_accounting.pld import pld_privacy_accountant
    accountant = pld_privacy_accountant.PLDAccountant().compose(GaussianDpEvent(sigma / 500.0))
    assert accountant.get_epsilon(delta) == pytest.approx(epsilon, abs=0.01)
    assert randomize.gaussian_stddev(2 * epsilon, delta, 0.0, 500.0) < 0.6 * sigma
    generator = _generator()
    noised = tf.function(lambda v: randomize.gaussian(v, epsilon, delta, 0.0, 500.0, 0.01,
                                                      generator))(
        tf.constant(["100"] * n + [""])).numpy()
    assert np.isnan(noised[-1])
    assert abs(np.std(noised[:-1]) / sigma - 1.0) < 0.03
    assert abs(np.mean(noised[:-1]) - 100.0) < 4 * sigma / math.sqrt(n)


def _run_k_anonymity(rows, rule, tmp_path):
    out = tmp_path / "out.pickle"

    def save(released, summary):
        out.write_bytes(pickle.dumps({"released": released, "summary": summary}))

    with beam.Pipeline() as pipeline:
        result = pipeline | beam.Create(rows) | KAnonymize(rule, "user_id")
        released = result["released"] | beam.combiners.ToList()
        released | beam.Map(save, summary=beam.pvalue.AsSingleton(result["summary"]))
    return pickle.loads(out.read_bytes())


def test_k_anonymity_counts_users_not_rows_and_suppresses_cells_of_small_classes(tmp_path):
    """Classes below k_min keep every row, their quasi-identifiers replaced by "*": no user's
    rows appear or disappear because of another user (tests/privacy/test_neighbouring_datasets.py)."""
    rule = policy.KAnonymity(["band"], k_min=3, max_suppressed_row_share=0.5,
                             sensitive_attributes=["gender"])
    rows = ([{"user_id": f"u{i}", "band": b"1980-1989", "gender": g}
             for i, g in enumerate([b"F", b"M", b"F"])]
            + [{"user_id": "heavy", "band": b"1900-1919", "gender": b"M"}] * 50  # one person
            + [{"user_id": f"v{i}", "band": b"1990-1999", "gender": b"F"} for i in range(4)])
    result = _run_k_anonymity(rows, rule, tmp_path)
    summary, released = result["summary"], result["released"]
    assert len(released) == len(rows) == 57
    assert sorted(r["band"] for r in released if r["user_id"] == "heavy") == [b"*"] * 50
    assert {r["band"] for r in released if r["user_id"] != "heavy"} == {b"1980-1989",
                                                                        b"1990-1999"}
    def other_values(some_rows):
        return sorted((r["user_id"], r["gender"]) for r in some_rows)
    assert other_values(released) == other_values(rows)  # only the suppressed cells change
    assert summary["classes"] == 3 and summary["classes_below_k_min"] == 1
    assert summary["rows_with_suppressed_quasi_identifiers"] == 50
    assert summary["suppressed_cells"] == 50
    assert summary["users_with_suppressed_quasi_identifiers"] == 1
    assert summary["min_k_released"] == 3 and summary["min_k_before_suppression"] == 1
    assert summary["budget_exceeded"] is True  # 50 / 57 rows > 0.5
    assert summary["l_diversity"]["gender"] == {"min_l": 1, "classes_with_l_1": 1}
    assert summary["class_size_histogram"] == {"1": 1, "3-4": 2}


def test_report_holds_counts_and_settings_never_values(tmp_path):
    loaded = policy.load(policy.DEFAULT_POLICY)
    stats = {"rows_in": 10, "query:[PHONE]": 2, "query:non_empty": 9}
    built = report.build(loaded, "abcd", stats, {"train": 8, "eval": 2}, None)
    report.write(built, str(tmp_path))
    again = report.read(str(tmp_path))
    assert again["columns"]["query"]["placeholders_inserted"] == {"[PHONE]": 2}
    assert again["columns"]["gender"]["keep_probability"] == pytest.approx(
        math.exp(2) / (math.exp(2) + 1))
    assert again["columns"]["gender"]["unit"] == "user"
    assert again["columns"]["gender"]["epsilon_per_user"] == 2.0
    assert "ε = 2 per user" in again["columns"]["gender"]["local_dp"]
    assert again["columns"]["order_amount"]["epsilon_per_row"] == 1.0
    assert again["columns"]["order_amount"]["epsilon_per_user"] == (
        "n·1 for a user with n rows holding a value")
    assert "NOT PRIVATE" not in again["columns"]["gender"]["local_dp"]
    dev = report.build(loaded, "DEV-KEY-NOT-PRIVATE", stats, {"train": 10}, None)
    assert "NOT PRIVATE" in dev["columns"]["gender"]["local_dp"]
    assert again["rows_out"] == 10 and again["rows_suppressed"] == 0
    html = (tmp_path / report.HTML_FILE).read_text()
    assert "[PHONE] 2" in html and loaded.version in html
    assert os.path.exists(tmp_path / report.JSON_FILE)
    assert yaml.safe_load(json.dumps(again))  # plain data


def test_report_states_delta_and_noise_of_gaussian_columns(tmp_path):
    path = _policy_file(tmp_path, "version: '7'\ncolumns:\n"
                        "  amount: {role: sensitive_attribute, randomize: {method: gaussian, "
                        "epsilon: 0.5, delta: 1.0e-6, lower: 0, upper: 200}}\n"
                        "  price: {role: quasi_identifier, generalize: {method: bucket, "
                        "boundaries: [10, 100]}}\n")
    built = report.build(policy.load(path), "abcd", {"rows_in": 1}, {"train": 1}, None)
    amount = built["columns"]["amount"]
    assert amount["delta"] == 1e-6 and amount["epsilon"] == 0.5
    assert amount["noise_stddev"] == pytest.approx(randomize.gaussian_stddev(0.5, 1e-6, 0, 200))
    assert f"σ {amount['noise_stddev']:.4g}" in report.to_html(built)
    assert built["columns"]["price"]["settings"]["boundaries"] == [10, 100]


def test_numeric_methods_refuse_non_numbers_at_ingestion_without_echoing_them():
    from components.masking.reading import row_problem
    for params in ({"method": "bucket", "boundaries": [10]},
                   {"method": "gaussian", "epsilon": 1, "delta": 1e-6, "lower": 0, "upper": 9}):
        rule = policy.ColumnRule("price", policy.QUASI, "generalize", params)
        assert row_problem(rule, "12.5") is None and row_problem(rule, "") is None
        problem = row_problem(rule, "12 yuan")
        assert "not a number" in problem and "yuan" not in problem
