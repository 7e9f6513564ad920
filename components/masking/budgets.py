"""The policy's budgets: a run whose cleaning removes, or whose k-anonymity suppresses the
quasi-identifiers of, more rows than the masking policy allows fails after its report is written
(MLMD marks it failed: nothing is published); the error says what to change.
"""
import os
from typing import Dict

import apache_beam as beam

from components.masking import cleaning, report


class ReidentificationRiskError(RuntimeError):
    """Raised when k-anonymity would suppress more rows than the policy allows."""


class CleaningBudgetError(RuntimeError):
    """Raised when the cleaning rules would remove more rows than the policy allows."""


def check(masking_report: Dict, report_dir: str) -> Dict:
    """Raises the first budget the report exceeds; returns the report when none is."""
    cleaned = masking_report.get("cleaning")
    if cleaned and cleaned["budget_exceeded"]:
        raise CleaningBudgetError(
            f"cleaning: {cleaned['rows_removed']} of {cleaned['rows_read']} rows "
            f"({cleaned['removed_row_share']:.1%}) removed ("
            + ", ".join(f"{rule} {n}" for rule, _, n in cleaning.lines(cleaned))
            + f"); the policy allows {cleaned['max_removed_row_share']:.1%}. Fix the data "
            "upstream (a unit error, a re-sent file, a crawler), or change the cleaning "
            "settings or raise max_removed_row_share in the masking policy")
    k_figures = masking_report.get("k_anonymity")
    if k_figures and k_figures["budget_exceeded"]:
        raise ReidentificationRiskError(
            f"k-anonymity: {k_figures['rows_with_suppressed_quasi_identifiers']} of "
            f"{masking_report['rows_in']} rows ({k_figures['suppressed_row_share']:.1%}) are "
            f"in equivalence classes of fewer than k_min={k_figures['k_min']} users over "
            f"{', '.join(k_figures['quasi_identifiers'])}; the policy allows suppressing "
            f"the quasi-identifiers of {k_figures['max_suppressed_row_share']:.1%}. "
            "Generalise more (wider bands, coarser maps), lower k_min, or raise "
            "max_suppressed_row_share in the masking policy. Details: "
            f"{os.path.join(report_dir, report.HTML_FILE)}")
    return masking_report


class CheckBudgets(beam.PTransform):
    """PCollection[report dict] -> the same, or the pipeline fails with the budget's error."""

    def __init__(self, report_dir: str):
        super().__init__()
        self._report_dir = report_dir

    def expand(self, reports):
        return reports | "Check" >> beam.Map(check, self._report_dir)
