"""The masking ExampleGen's Beam graph: input files in, serialized tf.Examples per split and one
dict of figures (for the report) out.

Memory does not grow with the rows on the in-memory DirectRunner, which holds every PCollection
that crosses a Beam stage boundary: the input is read three times instead of held. The first
read keeps only the cleaning figures (cleaning.py), the second only the k-anonymity class sizes,
each item's first released time and the rows outside the window from the deterministic
released columns (ReleasedColumns), and the third cleans, masks, suppresses, splits and
serializes in one fused stage.

`cold_start_item` flags examples whose item has no interaction in the training split (the
Evaluator's cold-start slice): 0 on every training row by construction, so the set of trained
items changes only other users' *eval* flags (docs/privacy.md, neighbouring data sets).
"""
from typing import Dict, List, NamedTuple, Optional, Sequence

import apache_beam as beam

from components.masking import cleaning, pseudonymizer, reading, reidentification
from components.masking import policy as policy_lib
from components.masking import time_split
from components.masking.ptransform import MaskInteractions, ReleasedColumns, to_example
from privrec.data import schema

# The keys of the figures dict.
STATS, SPLIT_ROWS, K_ANONYMITY, CLEANING_COUNTS, OUTSIDE_ROWS = (
    "stats", "split_rows", "k_anonymity", "cleaning_counts", "outside_rows")


class Masked(NamedTuple):
    """MaskAndSplit's outputs: {split name: PCollection[serialized tf.Example]} and a
    PCollection of one figures dict (keys above)."""
    examples: Dict[str, beam.PCollection]
    figures: beam.PCollection


def flag_cold_start(row: Dict, trained_items) -> Dict:
    """Adds `cold_start_item`: 1 when the row's item has no interaction in the training split."""
    return {**row, schema.COLD_START_ITEM: int(row[schema.ITEM_ID] not in trained_items)}


def collect_figures(stats: Dict[str, int], split_rows: Dict[str, int], split_names: List[str],
                    k_anonymity: Optional[Dict], cleaning_counts: Optional[Dict],
                    outside_rows: Dict[str, int]) -> Dict:
    """One dict of the run's figures; rows per split in the splits' order."""
    return {STATS: stats, SPLIT_ROWS: {name: split_rows[name] for name in split_names},
            K_ANONYMITY: k_anonymity, CLEANING_COUNTS: cleaning_counts,
            OUTSIDE_ROWS: outside_rows}


class MaskAndSplit(beam.PTransform):
    """Pipeline -> Masked: the files' rows cleaned, masked, k-anonymised (cell suppression),
    split by the public time window and serialized, with the figures of each step.

    shuffle: spread rows over workers before masking (runners whose shuffles spill)."""

    def __init__(self, policy: policy_lib.MaskingPolicy, key: pseudonymizer.PseudonymKey,
                 files: Sequence[str], splits, window, user_column: Optional[str],
                 shuffle: bool = False):
        super().__init__()
        self._policy, self._key, self._files = policy, key, list(files)
        self._splits, self._window, self._user = list(splits), window, user_column
        self._shuffle = shuffle

    def expand(self, pipeline):  # -> Masked (no annotation: Beam would read it as a hint)
        policy, key, user, window = self._policy, self._key, self._user, self._window
        upper_shares = time_split.upper_shares_of(self._splits)
        k_rule = policy.k_anonymity
        salt = cleaning.new_salt()

        def read(label):  # each pass reads the files again: the rows are never held
            return pipeline | f"Read[{label}]" >> reading.ReadLocatedRows(self._files, policy)

        cleaning_figures = None
        if policy.cleaning:  # raw rows, before masking (cleaning.py says why)
            cleaning_figures = read("cleaning") | "CleaningFigures" >> cleaning.CleaningFigures(
                policy.cleaning, user, salt)

        def clean_rows(label):
            located = read(label)
            if cleaning_figures is not None:
                located = located | f"Clean[{label}]" >> cleaning.KeepClean(
                    policy.cleaning, user, salt, cleaning_figures)
            return located | f"Rows[{label}]" >> beam.Values()

        # Figures pass: class sizes, each item's first time and the rows outside the window,
        # from the deterministic released columns (the masked rows will carry the same values).
        class_columns = list(k_rule.quasi_identifiers) if k_rule else []
        columns = list(dict.fromkeys(class_columns + [schema.TIMESTAMP, schema.ITEM_ID]
                                     + ([user] if user and k_rule else [])))
        released_columns = clean_rows("figures") | "ReleasedColumns" >> ReleasedColumns(
            policy, key, columns)
        small, sizes = {}, None
        if k_rule:
            sizes = released_columns | "ClassSizes" >> reidentification.ClassSizes(k_rule, user)
            small = reidentification.small_classes(sizes, k_rule)
        outside = (released_columns
                   | "WindowSide" >> beam.Map(
                       lambda r: time_split.window_side(r[schema.TIMESTAMP], window))
                   | "Outside" >> beam.Filter(lambda side: side != "inside")
                   | "RowsOutside" >> beam.combiners.Count.PerElement()
                   | "OutsideDict" >> beam.combiners.ToDict())
        trained_items = beam.pvalue.AsSingleton(
            released_columns
            | "ItemTime" >> beam.Map(lambda r: (r[schema.ITEM_ID], r[schema.TIMESTAMP]))
            | "FirstTime" >> beam.CombinePerKey(min)
            | "TrainedItem" >> beam.Filter(
                lambda kv: time_split.split_index(kv[1], window, upper_shares) == 0)
            | "TrainItems" >> beam.Keys()
            | "TrainItemSet" >> beam.combiners.ToSet())

        # Output pass: clean, mask, suppress, split and serialize, one fused Beam stage.
        rows = clean_rows("mask")
        if self._shuffle:
            rows = rows | "Reshuffle" >> beam.Reshuffle()
        masking = rows | "Mask" >> MaskInteractions(policy, key)
        masked, k_summary = masking["masked"], None
        if k_rule:
            masked = masked | "KAnonymity" >> reidentification.SuppressCells(k_rule, small)
            k_summary = ({"sizes": sizes,
                          "l": masked | "Diversity" >> reidentification.Diversity(k_rule)}
                         | "KAnonymitySummary" >> reidentification.Summarize(k_rule))
        parts = masked | "SplitByTime" >> beam.Partition(
            lambda row, n: time_split.split_index(row[schema.TIMESTAMP], window, upper_shares),
            len(self._splits))
        examples, counts = {}, []
        for i, split in enumerate(self._splits):
            rows = parts[i] | f"ColdStart[{split.name}]" >> beam.Map(flag_cold_start,
                                                                    trained_items)
            examples[split.name] = rows | f"Serialize[{split.name}]" >> beam.Map(to_example)
            counts.append(rows | f"Count[{split.name}]" >> beam.combiners.Count.Globally()
                          | f"Named[{split.name}]" >> beam.Map(lambda n, s=split.name: (s, n)))
        cleaning_counts = None
        if cleaning_figures is not None:
            cleaning_counts = cleaning_figures | "CleaningCounts" >> beam.Map(
                lambda figures: figures["counts"])

        def side(pcoll):
            return beam.pvalue.AsSingleton(pcoll) if pcoll is not None else None

        figures = masking["stats"] | "Figures" >> beam.Map(
            collect_figures,
            split_rows=beam.pvalue.AsDict(counts | "SplitCounts" >> beam.Flatten()),
            split_names=[split.name for split in self._splits],
            k_anonymity=side(k_summary), cleaning_counts=side(cleaning_counts),
            outside_rows=beam.pvalue.AsSingleton(outside))
        return Masked(examples, figures)
