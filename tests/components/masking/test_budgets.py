"""budgets.py: a report over the policy's cleaning or suppression budget fails the pipeline
with the error that says what to change; one within both passes."""
import apache_beam as beam
import pytest

from components.masking import budgets, cleaning
from components.masking import policy as policy_lib

TINY = policy_lib.load(policy_lib.TINY_POLICY)


def _report(removed=0, suppressed_share=0.0):
    k_figures = {"budget_exceeded": suppressed_share > 0.1, "suppressed_row_share":
                 suppressed_share, "rows_with_suppressed_quasi_identifiers": 40, "k_min": 3,
                 "quasi_identifiers": ["birth_date", "city"], "max_suppressed_row_share": 0.1}
    return {"rows_in": 100, "k_anonymity": k_figures, "cleaning": cleaning.summarize(
        {cleaning.ROWS_READ: 100, cleaning.DUPLICATE_RULE: removed}, TINY.cleaning)}


def test_each_budget_names_its_figures_and_the_fix():
    assert budgets.check(_report(removed=5), "/r") == _report(removed=5)
    with pytest.raises(budgets.CleaningBudgetError, match=r"cleaning: 6 of 100 rows \(6\.0%\) "
                       r"removed .*allows 5\.0%.*max_removed_row_share"):
        budgets.check(_report(removed=6), "/r")
    with pytest.raises(budgets.ReidentificationRiskError, match=r"k-anonymity: 40 of 100 rows "
                       r"\(40\.0%\).*k_min=3 users over birth_date, city.*Details: "
                       r"/r/masking_report\.html"):
        budgets.check(_report(suppressed_share=0.4), "/r")


def test_check_budgets_fails_the_pipeline_with_the_error():
    with pytest.raises(budgets.ReidentificationRiskError, match="Generalise more"):
        with beam.Pipeline() as pipeline:
            _ = (pipeline | beam.Create([_report(suppressed_share=0.4)])
                 | budgets.CheckBudgets("/r"))
