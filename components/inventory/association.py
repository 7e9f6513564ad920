"""Pairwise association of the released columns, computed with Beam over the masked examples.

Numeric pairs: Pearson's r and Spearman's ρ over the examples where both columns have a value
(Spearman = Pearson of the mid-ranks, ties averaged, ranks taken within those examples: a
value-count table per pair and column, then one streaming pass with mergeable co-moments).
Categorical pairs: Cramér's V (no continuity correction) of the contingency table, by
`scipy.stats.contingency.association`. Which columns take part is decided in classes.py.
Only figures per pair leave this module, never a value.
"""
import itertools
from typing import Dict, List, Optional, Sequence

import apache_beam as beam
import numpy as np
import tensorflow as tf
from scipy.stats import contingency


def parse(record: bytes, columns: Sequence[str]) -> Dict:
    """A serialized tf.Example -> {column: its single value or None}."""
    features = tf.train.Example.FromString(record).features.feature
    row = {}
    for column in columns:
        feature = features.get(column)
        values = [] if feature is None else (feature.bytes_list.value or feature.int64_list.value
                                             or feature.float_list.value)
        row[column] = values[0] if values else None
    return row


class _CoMoments:
    """n, means, sums of squared deviations and co-deviation of (x, y); merged pairwise (Chan
    et al.), so no large sums of squares lose precision (timestamps are ~1.7e9)."""

    def __init__(self, x: float = 0., y: float = 0., n: int = 0):
        self.n, self.mean_x, self.mean_y, self.m2x, self.m2y, self.cxy = n, x, y, 0., 0., 0.

    def merge(self, other: "_CoMoments") -> "_CoMoments":
        if other.n == 0:
            return self
        n = self.n + other.n
        dx, dy = other.mean_x - self.mean_x, other.mean_y - self.mean_y
        share = self.n * other.n / n
        self.m2x += other.m2x + dx * dx * share
        self.m2y += other.m2y + dy * dy * share
        self.cxy += other.cxy + dx * dy * share
        self.mean_x += dx * other.n / n
        self.mean_y += dy * other.n / n
        self.n = n
        return self

    def correlation(self) -> Optional[float]:
        if self.n < 2 or self.m2x <= 0 or self.m2y <= 0:
            return None  # a constant column has no correlation
        return float(self.cxy / np.sqrt(self.m2x * self.m2y))


class _Correlation(beam.CombineFn):
    """(x, y, rank of x, rank of y) per example -> examples, Pearson r, Spearman ρ."""

    def create_accumulator(self):
        return _CoMoments(), _CoMoments()

    def add_input(self, accumulator, values):
        x, y, rank_x, rank_y = values
        accumulator[0].merge(_CoMoments(float(x), float(y), 1))
        accumulator[1].merge(_CoMoments(rank_x, rank_y, 1))
        return accumulator

    def merge_accumulators(self, accumulators):
        values, ranks = self.create_accumulator()
        for other_values, other_ranks in accumulators:
            values.merge(other_values)
            ranks.merge(other_ranks)
        return values, ranks

    def extract_output(self, accumulator):
        values, ranks = accumulator
        return {"examples": values.n, "pearson": values.correlation(),
                "spearman": ranks.correlation()}


def mid_ranks(value_counts) -> Dict:
    """{value: mid-rank} (1-based, ties share the mean of their ranks) from (value, count)."""
    ranks, below = {}, 0
    for value, count in sorted(value_counts):
        ranks[value] = below + (count + 1) / 2
        below += count
    return ranks


def _complete_pairs(row: Dict, pairs):
    for a, b in pairs:
        if row[a] is not None and row[b] is not None:
            yield (a, b), (row[a], row[b])


def _with_ranks(pair_values, ranks):
    pair, (x, y) = pair_values
    return pair, (x, y, ranks[(pair, 0)][x], ranks[(pair, 1)][y])


def _cells(row: Dict, pairs):
    for a, b in pairs:
        if row[a] is not None and row[b] is not None:
            yield a, b, row[a], row[b]


def cramers_v(pair, cells) -> Dict:
    """Cramér's V of one pair's contingency table ((value a, value b, count) cells)."""
    cells = list(cells)
    rows = {a: i for i, a in enumerate(sorted({a for a, _, _ in cells}))}
    columns = {b: i for i, b in enumerate(sorted({b for _, b, _ in cells}))}
    table = np.zeros((len(rows), len(columns)), dtype=np.int64)
    for a, b, count in cells:
        table[rows[a], columns[b]] = count
    v = (float(contingency.association(table, method="cramer"))
         if min(table.shape) >= 2 else None)  # one category: nothing to associate
    return {"columns": list(pair), "examples": int(table.sum()), "cramers_v": v,
            "categories": list(table.shape)}


def _collect(results: List) -> Dict[str, List[Dict]]:
    out = {"numeric": [], "categorical": []}
    for kind, entry in results:
        out[kind].append(entry)
    for entries in out.values():
        entries.sort(key=lambda e: e["columns"])
    return out


class Associations(beam.PTransform):
    """PCollection[row dict] -> one dict {"numeric": [...], "categorical": [...]}: per pair its
    columns, number of examples and the measures."""

    def __init__(self, numeric: Sequence[str], categorical: Sequence[str]):
        super().__init__()
        self._numeric_pairs = list(itertools.combinations(sorted(numeric), 2))
        self._categorical_pairs = list(itertools.combinations(sorted(categorical), 2))

    def expand(self, rows):
        pairs = rows | "NumericPairs" >> beam.FlatMap(_complete_pairs, self._numeric_pairs)
        ranks = (pairs
                 | "PairValues" >> beam.FlatMap(lambda kv: [((kv[0], 0, kv[1][0]), 1),
                                                            ((kv[0], 1, kv[1][1]), 1)])
                 | "CountValues" >> beam.CombinePerKey(sum)
                 | "ByPairColumn" >> beam.Map(lambda kv: ((kv[0][0], kv[0][1]),
                                                          (kv[0][2], kv[1])))
                 | "GroupValues" >> beam.GroupByKey()
                 | "MidRanks" >> beam.MapTuple(lambda key, counts: (key, mid_ranks(counts))))
        numeric = (pairs
                   | "WithRanks" >> beam.Map(_with_ranks, beam.pvalue.AsDict(ranks))
                   | "Correlate" >> beam.CombinePerKey(_Correlation())
                   | "NumericEntry" >> beam.MapTuple(
                       lambda pair, r: ("numeric", {"columns": list(pair), **r})))
        categorical = (rows
                       | "CategoricalPairs" >> beam.FlatMap(_cells, self._categorical_pairs)
                       | "CountCells" >> beam.combiners.Count.PerElement()
                       | "ByPair" >> beam.Map(lambda kv: (kv[0][:2], kv[0][2:] + (kv[1],)))
                       | "GroupCells" >> beam.GroupByKey()
                       | "CramersV" >> beam.MapTuple(
                           lambda pair, cells: ("categorical", cramers_v(pair, cells))))
        return ((numeric, categorical) | "Measures" >> beam.Flatten()
                | "All" >> beam.combiners.ToList() | "Collect" >> beam.Map(_collect))
