"""`privrec privacy-report`: the same Trainer at each ε, scored over the whole catalog, drawn;
quiet, with its section in the run report."""
import json
import math

import pytest

from audit import privacy_utility
from tests.support import quiet_command


def test_epsilons_are_parsed_and_bad_ones_named():
    assert privacy_utility.parse_epsilons("8, 0.5,inf,1") == [0.5, 1.0, 8.0, math.inf]
    with pytest.raises(ValueError, match="'lots' is not a number"):
        privacy_utility.parse_epsilons("1,lots")
    with pytest.raises(ValueError, match="must be > 0"):
        privacy_utility.parse_epsilons("0,1")


def test_an_epsilon_the_releases_before_training_already_spend_is_refused_before_any_run(
        tmp_path):
    """MovieLens 1M's preset releases a prior at σ_pop 10: with the DP user count that is ε ≈ 0.6
    at δ 1e-6 before any step, so ε = 0.5 cannot be a point of its curve."""
    import subprocess
    from components.masking import policy
    from privrec.privacy import accounting
    prior = accounting.epsilon_before_training(10.0, 10.0, 1e-6)
    assert 0.5 < prior < 1.0
    assert accounting.epsilon_before_training(None, 10.0, 1e-6) < prior
    assert accounting.epsilon_before_training(None, None, 1e-6) == 0.0
    data = tmp_path / "data"  # a time window only: nothing is read before the refusal
    (data / "interactions").mkdir(parents=True)
    (data / "interactions" / "time_window.json").write_text('{"start": 0, "end": 86400}')
    result = subprocess.run(
        [quiet_command.PRIVREC, "privacy-report", "--work-dir", str(tmp_path / "work"),
         "--data-dir", str(data), "--policy", policy.MOVIELENS_1M_POLICY, "--epsilons",
         "0.5,1,inf"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "ε = 0.5 cannot be reached" in result.stderr, result.stderr
    assert f"popularity prior (σ_pop 10) and the DP count of users already spend ε {prior:.3g}" \
        in result.stderr
    assert not (tmp_path / "work" / "pipeline").exists()  # refused before the pipeline ran


@pytest.mark.heavy
def test_privacy_report_trains_at_each_epsilon_and_draws_the_curve(tmp_path):
    work = tmp_path / "report"
    study = quiet_command.run(work, "privacy-report", "--size", "tiny", "--train-steps", "40",
                              "--epsilons", "1,8,inf")
    printed = study.stdout
    points = json.loads((work / privacy_utility.JSON_FILE).read_text())["points"]
    assert [p["target_epsilon"] for p in points] == [1.0, 8.0, math.inf]
    for point in points[:2]:  # calibrated by the accountant: spends the target, not more
        assert 0.95 * point["target_epsilon"] <= point["epsilon"] <= point["target_epsilon"]
    assert points[0]["noise_multiplier"] > points[1]["noise_multiplier"] > 0
    assert points[2]["epsilon"] == math.inf and points[2]["noise_multiplier"] == 0
    for point in points:
        assert point["steps"] == 40 and point["eval_examples"] > 50
        assert 0 <= point["ndcg_at_10"] <= point["recall_at_10"] <= point["recall_at_100"] <= 1
    assert (work / privacy_utility.PNG_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Recall@100" in printed and "privacy-utility" in printed
    # The run report: the curve's section beside its pipeline run's.
    assert "id='utility'><h2>Privacy-utility curve</h2>" in study.page
    assert "no DP" in study.page
