"""Re-identification risk with Beam: k-anonymity over generalised quasi-identifiers, l-diversity.

Rows are interactions and one person has many, so an equivalence class's size k is its number
of distinct *users* (pseudonyms), not of rows: a heavy user alone in a class is still alone.
Rows of classes with fewer than k_min users are suppressed (not released); l-diversity is the
number of distinct released values of each sensitive attribute per released class. Only sizes
and shares leave this module, never a class's values.
"""
from typing import Dict, List, Optional, Tuple

import apache_beam as beam

from components.masking.policy import KAnonymity

SIZE_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100)  # histogram of users per class: [1,2), [2,3), ...


def _bucket(size: int) -> str:
    lows = [b for b in SIZE_BUCKETS if b <= size]
    low = lows[-1]
    following = [b for b in SIZE_BUCKETS if b > low]
    if not following:
        return f"{low}+"
    return str(low) if following[0] == low + 1 else f"{low}-{following[0] - 1}"


def summarize(classes: List[Tuple[int, int, Dict[str, int]]], rule: KAnonymity) -> Dict:
    """[(users, rows, {attribute: l})] per class -> the report's k/l figures."""
    rows = sum(r for _, r, _ in classes)
    small = [(u, r) for u, r, _ in classes if u < rule.k_min]
    released = [(u, ls) for u, _, ls in classes if u >= rule.k_min]
    suppressed_rows = sum(r for _, r in small)
    histogram: Dict[str, int] = {}
    for users, _, _ in classes:
        histogram[_bucket(users)] = histogram.get(_bucket(users), 0) + 1
    share = suppressed_rows / rows if rows else 0.0
    return {
        "quasi_identifiers": list(rule.quasi_identifiers),
        "k_min": rule.k_min,
        "classes": len(classes),
        "min_k_before_suppression": min((u for u, _, _ in classes), default=0),
        "min_k_released": min((u for u, _ in released), default=0),
        "classes_below_k_min": len(small),
        "rows_in_classes_below_k_min": suppressed_rows,
        "users_in_classes_below_k_min": sum(u for u, _ in small),
        "suppressed_row_share": share,
        "max_suppressed_row_share": rule.max_suppressed_row_share,
        "budget_exceeded": share > rule.max_suppressed_row_share,
        "class_size_histogram": {b: histogram[b] for b in sorted(histogram, key=lambda s: int(
            s.split("-")[0].rstrip("+")))},
        "l_diversity": {attribute: {
            "min_l": min((ls.get(attribute, 0) for _, ls in released), default=0),
            "classes_with_l_1": sum(1 for _, ls in released if ls.get(attribute, 0) <= 1)}
            for attribute in rule.sensitive_attributes},
    }


class KAnonymize(beam.PTransform):
    """PCollection[masked row dict] -> {'released': rows of classes with >= k_min users,
    'summary': one dict of k/l figures (see `summarize`)}."""

    def __init__(self, rule: KAnonymity, user_column: Optional[str]):
        super().__init__()
        self._rule = rule
        self._user_column = user_column

    def _class_of(self, row) -> Tuple:
        return tuple(row[c] for c in self._rule.quasi_identifiers)

    def expand(self, rows):
        rule, class_of = self._rule, self._class_of
        user_column = self._user_column
        rows_per_class = (rows | "ClassOfRow" >> beam.Map(lambda r: (class_of(r), 1))
                          | "RowsPerClass" >> beam.CombinePerKey(sum))
        if user_column:
            users = (rows
                     | "ClassUser" >> beam.Map(lambda r: (class_of(r), r[user_column]))
                     | "DistinctUsers" >> beam.Distinct()
                     | "UsersPerClass" >> beam.combiners.Count.PerKey())
        else:  # no pseudonymised user column: every row counts as its own person
            users = rows_per_class
        small = users | "BelowKMin" >> beam.Filter(lambda kv: kv[1] < rule.k_min)
        released = rows | "Suppress" >> beam.Filter(
            lambda r, small_classes: class_of(r) not in small_classes,
            small_classes=beam.pvalue.AsDict(small))
        diversity = (released
                     | "ClassValue" >> beam.FlatMap(lambda r: [
                         ((class_of(r), a), r[a]) for a in rule.sensitive_attributes])
                     | "DistinctValues" >> beam.Distinct()
                     | "CountValues" >> beam.combiners.Count.PerKey()
                     | "ByClass" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1]))))
        summary = ({"users": users, "rows": rows_per_class, "l": diversity}
                   | "JoinClass" >> beam.CoGroupByKey()
                   | "ClassFigures" >> beam.Map(lambda kv: (
                       sum(kv[1]["users"]), sum(kv[1]["rows"]), dict(kv[1]["l"])))
                   | "AllClasses" >> beam.combiners.ToList()
                   | "Summarize" >> beam.Map(summarize, rule))
        return {"released": released, "summary": summary}
