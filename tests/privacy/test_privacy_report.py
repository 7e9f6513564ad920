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
