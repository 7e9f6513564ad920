"""Re-identification risk with Beam: k-anonymity over generalised quasi-identifiers, l-diversity.

Rows are interactions and one person has many, so an equivalence class's size k is its number
of distinct *users* (pseudonyms), not of rows: a heavy user alone in a class is still alone.
Classes with fewer than k_min users are suppressed *cell by cell*: their rows are released with
every quasi-identifier replaced by SUPPRESSED ("*", compatible with every person), never
dropped. Dropping whole rows would let one user decide whether other users' rows exist: adding
a user to a class of k_min - 1 would bring up to k_min - 1 other users' rows out of suppression,
which breaks the neighbouring-data-set assumption of user-level DP (a data set with or without
one user must differ only in that user's rows). The suppressed values themselves still depend on
the class sizes, so the training features must not carry quasi-identifiers (trainer/features.py
does not). l-diversity is the number of distinct released values of each sensitive attribute per
class at or above k_min. Only sizes and shares leave this module, never a class's values.

The steps are separate so that the masking executor can size the classes on one read of the
input (`ClassSizes`) and suppress (`SuppressCells`), measure l (`Diversity`) and summarise on
another, without holding the rows between Beam stages; `KAnonymize` chains them over one
PCollection.
"""
from typing import Dict, List, Optional, Tuple

import apache_beam as beam

from components.masking.policy import KAnonymity

SUPPRESSED = b"*"  # the released value of a suppressed quasi-identifier cell
SIZE_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100)  # histogram of users per class: [1,2), [2,3), ...


def _bucket(size: int) -> str:
    lows = [b for b in SIZE_BUCKETS if b <= size]
    low = lows[-1]
    following = [b for b in SIZE_BUCKETS if b > low]
    if not following:
        return f"{low}+"
    return str(low) if following[0] == low + 1 else f"{low}-{following[0] - 1}"


def summarize(classes: List[Tuple[int, int, Dict[str, int]]], rule: KAnonymity) -> Dict:
    """[(users, rows, {attribute: l})] per class (before suppression) -> the report's k/l
    figures. Suppression is by cell: every row is released, the rows of classes below k_min
    with their quasi-identifiers replaced by SUPPRESSED."""
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
        "suppression": f"cells: quasi-identifiers of rows in classes below k_min -> "
                       f"{SUPPRESSED.decode()}; no row is dropped",
        "classes": len(classes),
        "min_k_before_suppression": min((u for u, _, _ in classes), default=0),
        "min_k_released": min((u for u, _ in released), default=0),
        "classes_below_k_min": len(small),
        "rows_with_suppressed_quasi_identifiers": suppressed_rows,
        "users_with_suppressed_quasi_identifiers": sum(u for u, _ in small),
        "suppressed_cells": suppressed_rows * len(rule.quasi_identifiers),
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


def class_of(rule: KAnonymity, row: Dict) -> Tuple:
    return tuple(row[c] for c in rule.quasi_identifiers)


class ClassSizes(beam.PTransform):
    """Rows with released quasi-identifiers (and pseudonyms) -> (class, (users, rows))."""

    def __init__(self, rule: KAnonymity, user_column: Optional[str]):
        super().__init__()
        self._rule = rule
        self._user_column = user_column

    def expand(self, rows):
        rule, user_column = self._rule, self._user_column
        rows_per_class = (rows | "ClassOfRow" >> beam.Map(lambda r: (class_of(rule, r), 1))
                          | "RowsPerClass" >> beam.CombinePerKey(sum))
        if user_column:
            users = (rows
                     | "ClassUser" >> beam.Map(lambda r: (class_of(rule, r), r[user_column]))
                     | "DistinctUsers" >> beam.Distinct()
                     | "UsersPerClass" >> beam.combiners.Count.PerKey())
        else:  # no pseudonymised user column: every row counts as its own person
            users = rows_per_class
        return ({"users": users, "rows": rows_per_class}
                | "JoinSizes" >> beam.CoGroupByKey()
                | "Sizes" >> beam.Map(lambda kv: (kv[0], (sum(kv[1]["users"]),
                                                          sum(kv[1]["rows"])))))


def small_classes(sizes, rule: KAnonymity):
    """ClassSizes' output -> a side input: {class: users} of the classes below k_min."""
    return beam.pvalue.AsDict(sizes | "BelowKMin" >> beam.Filter(
        lambda kv: kv[1][0] < rule.k_min))


def suppress_cells(rule: KAnonymity, row: Dict, small) -> Dict:
    """The row as released: its quasi-identifiers replaced by SUPPRESSED when its class (as
    sized before suppression) is in small; every other value unchanged."""
    if class_of(rule, row) not in small:
        return row
    return {**row, **{column: SUPPRESSED for column in rule.quasi_identifiers}}


class SuppressCells(beam.PTransform):
    """Rows -> the same rows, the quasi-identifiers of those whose class is in small
    (small_classes' side input) suppressed (`suppress_cells`)."""

    def __init__(self, rule: KAnonymity, small):
        super().__init__()
        self._rule = rule
        self._small = small

    def expand(self, rows):
        rule = self._rule
        return rows | "SuppressCells" >> beam.Map(
            lambda r, small: suppress_cells(rule, r, small), small=self._small)


class Diversity(beam.PTransform):
    """Released rows -> (class, (attribute, distinct values)) per sensitive attribute of each
    class that is not suppressed (suppressed rows share one all-SUPPRESSED class, which joins
    no sized class)."""

    def __init__(self, rule: KAnonymity):
        super().__init__()
        self._rule = rule

    def expand(self, released):
        rule = self._rule
        return (released
                | "ClassValue" >> beam.FlatMap(lambda r: [
                    ((class_of(rule, r), a), r[a]) for a in rule.sensitive_attributes])
                | "DistinctValues" >> beam.Distinct()
                | "CountValues" >> beam.combiners.Count.PerKey()
                | "ByClass" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1]))))


class Summarize(beam.PTransform):
    """{'sizes': ClassSizes' output, 'l': Diversity's} -> one dict of k/l figures."""

    def __init__(self, rule: KAnonymity):
        super().__init__()
        self._rule = rule

    def expand(self, figures):
        return (figures
                | "JoinClass" >> beam.CoGroupByKey()
                | "ClassFigures" >> beam.FlatMap(lambda kv: [
                    (size[0], size[1], dict(kv[1]["l"])) for size in list(kv[1]["sizes"])[:1]])
                | "AllClasses" >> beam.combiners.ToList()
                | "Summarize" >> beam.Map(summarize, self._rule))


class KAnonymize(beam.PTransform):
    """PCollection[masked row dict] -> {'released': every row, the quasi-identifiers of
    classes below k_min users suppressed, 'summary': one dict of k/l figures (`summarize`)}."""

    def __init__(self, rule: KAnonymity, user_column: Optional[str]):
        super().__init__()
        self._rule = rule
        self._user_column = user_column

    def expand(self, rows):
        sizes = rows | "ClassSizes" >> ClassSizes(self._rule, self._user_column)
        released = rows | "SuppressCells" >> SuppressCells(self._rule,
                                                          small_classes(sizes, self._rule))
        diversity = released | "Diversity" >> Diversity(self._rule)
        summary = {"sizes": sizes, "l": diversity} | "Summary" >> Summarize(self._rule)
        return {"released": released, "summary": summary}
