"""The run report's evaluation section: the thresholds the candidate failed, as
pipeline/run_summary.py's gate_failures reads them, one table row each."""
from pipeline import run_summary
from privrec.app.report.sections import evaluation


def test_failed_thresholds_are_a_table_of_words_and_numbers():
    failures = [run_summary.GateFailure("privacy_epsilon", False, "candidate", 3.87,
                                        "value_threshold { upper_bound { value: 1.0 } }"),
                run_summary.GateFailure("recall_at_10", True, "candidate", -0.25,
                                        "change_threshold { direction: HIGHER_IS_BETTER }")]
    html = "".join(evaluation.section({}, failures, blessed=False).parts)
    assert "not blessed" in html
    assert ("<td>privacy_epsilon</td><td>candidate</td><td class='num'>3.87</td>"
            "<td>value_threshold { upper_bound { value: 1.0 } }</td>") in html
    assert "<td>recall_at_10 (change vs. baseline)</td><td>candidate</td>" in html
