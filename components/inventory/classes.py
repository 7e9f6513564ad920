"""Privacy classes of the columns, and which columns may show values or be associated.

The class comes from the masking policy role recorded in the masking report (the resolved
policy of this run). What the inventory shows per class:
  quasi identifier, sensitive: generalised (k-anonymous classes) or randomised (local DP)
      values: top values (of string columns with at most `max_categories` distinct values;
      only values seen in at least `min_value_count` examples) and histograms.
  behavioural: top values / histograms only when categorical (at most `max_categories`
      distinct values): item ids of a large catalog or a user's recent-item sequence are
      near-unique per user, so their frequency table describes individuals.
  direct identifier (pseudonymised): never any value or frequency. A pseudonym's frequency
      table is the activity of single (pseudonymous) people, i.e. behavioural data of
      individuals; only counts (completeness, number of distinct pseudonyms) are shown.
  free text: never any value; scrubbed queries can still be unique to a person.
  derived (added by ExampleGen: cold_start_item, 1 when the item has no interaction in the
      training split): a 0/1 flag; its histogram is shown.
A numeric column's min / max / histogram edges are values of single rows: for the timestamp
(truncated to the hour) and the local-DP noised amount they are what the policy releases in
every example anyway.
Cramér's V is computed over categorical columns (string, class quasi / sensitive /
behavioural, at most `max_categories` distinct values in every split: wider tables give
expected cell counts too small for a meaningful χ²); Pearson and Spearman over numeric columns
of any class but direct identifier. Free text and pseudonyms are never associated.
"""
from typing import Dict, Optional

from components.masking import policy as policy_lib

DERIVED = "derived"
CLASSES = {policy_lib.DIRECT: "direct identifier", policy_lib.QUASI: "quasi identifier",
           policy_lib.SENSITIVE: "sensitive", policy_lib.FREE_TEXT: "free text",
           policy_lib.KEEP: "behavioural", DERIVED: "derived"}
NUMERIC_TYPES = ("INT", "FLOAT")
CATEGORICAL_ROLES = (policy_lib.QUASI, policy_lib.SENSITIVE, policy_lib.KEEP, DERIVED)


def role(column: str, policy_columns: Dict[str, Dict]) -> str:
    """The policy role of a released column (DERIVED for columns ExampleGen adds)."""
    entry = policy_columns.get(column)
    return entry["role"] if entry else DERIVED


def withheld_reason(column_role: str, feature_type: str, cardinality: Optional[int],
                    max_categories: int) -> Optional[str]:
    """Why the column's values may not be shown (None: they may)."""
    if column_role == policy_lib.DIRECT:
        return ("pseudonymised identifier: its frequency table would be the activity of "
                "individuals")
    if column_role == policy_lib.FREE_TEXT:
        return "free text: values can be unique to a person"
    if feature_type not in NUMERIC_TYPES and (cardinality is None
                                              or cardinality > max_categories):
        return (f"more than {max_categories} distinct values: near-unique values describe "
                "individuals")
    return None


def association_kind(column_role: str, feature_type: str, withheld: Optional[str]):
    """'numeric', 'categorical' or None (not associated) for a released column."""
    if column_role in (policy_lib.DIRECT, policy_lib.FREE_TEXT):
        return None
    if feature_type in NUMERIC_TYPES:
        return "numeric"
    if column_role in CATEGORICAL_ROLES and withheld is None:
        return "categorical"
    return None
