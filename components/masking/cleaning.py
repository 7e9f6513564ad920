"""Cleaning rules: a Beam step on the raw rows, after they are read and checked, before masking.

Before masking, because masking randomises (randomised response, Laplace noise): two copies of
one raw row are no longer identical once masked, and the bot rule needs the raw clock. The raw
rows exist only inside the Beam pipeline; only counts leave it (the masking report) and only
masked rows are written. The raw input files are never modified.

Rules, in this order (settings: the masking policy's `cleaning:` section, policy.Cleaning):
  timestamp_out_of_range  raw Unix seconds outside `timestamp_range`: the row is removed.
  exact_duplicates        rows identical in every column are kept once.
  bot_like_users          a user with more than `max_events_per_user_hour` events in any clock
                          hour: ALL of that user's rows are removed (not flagged: README
                          "Cleaning" says why).
Every removed row is counted per rule; cleaning removing more than `max_removed_row_share` of
the rows read fails the run after the report is written (executor.py).

Each rule decides by the row alone or by its user's own rows, with settings fixed in the
policy, never learnt from the data (no percentile, no population threshold): whether a user's
rows are kept never depends on other users, so data sets that differ by one user differ after
cleaning by that user's rows only (tests/privacy/test_neighbouring_datasets.py). Exact
duplicates share
every column, the user id included, so they are one user's. Only the budget compares with the
whole: it fails the run (nothing is released), it never changes which rows are kept.

No raw value is ever a key or a value of a Beam combine: Beam's CombineOperation logs its
elements at DEBUG level. Rows and users are keyed by a digest under a random per-run salt that
is kept nowhere (BLAKE2b).

Two steps, so that the rows themselves are never held between Beam stages (the in-memory
DirectRunner keeps a stage's whole output in memory for the next): `CleaningFigures` reads the
located rows once and keeps only small figures per distinct row and per user-hour (the counts,
the location of the one copy of each duplicated row that is kept, the bot-like users);
`KeepClean` filters another read of the same rows with them, streaming. A row's location is
(file index, row number): the kept copy of a duplicated row is its first.
"""
import hashlib
import os
from typing import Dict, List, Optional, Tuple

import apache_beam as beam

from components.masking.policy import Cleaning
from privrec.data import schema

ROWS_READ = "rows_read"
TIMESTAMP_RULE, DUPLICATE_RULE, BOT_RULE = (
    "timestamp_out_of_range", "exact_duplicates", "bot_like_users")
RULES = (TIMESTAMP_RULE, DUPLICATE_RULE, BOT_RULE)  # the order they run in
BOT_USERS = "bot_like_users:users"


def new_salt() -> bytes:
    """The per-run salt of the digests; give the same one to CleaningFigures and KeepClean."""
    return os.urandom(16)


def _hour(row: Dict[str, str]) -> int:
    return int(row[schema.TIMESTAMP]) // 3600


def _digest(salt: bytes, *parts: str) -> bytes:
    digest = hashlib.blake2b(key=salt, digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.digest()


def _row_digest(salt: bytes, row: Dict[str, str]) -> bytes:
    return _digest(salt, *(f"{k}={v}" for k, v in sorted(row.items())))


def _in_time_range(rule: Cleaning, row: Dict[str, str]) -> bool:
    first, last = rule.timestamp_range
    return first <= int(row[schema.TIMESTAMP]) <= last


def _named_count(pcoll, name: str):
    return (pcoll | f"One[{name}]" >> beam.Map(lambda _: 1)
            | f"Count[{name}]" >> beam.CombineGlobally(sum)
            | f"Name[{name}]" >> beam.Map(lambda n: (name, n)))


class _Copies(beam.CombineFn):
    """(location, user-hour) of each copy of one row -> (copies, first location, user-hour)."""

    def create_accumulator(self):
        return 0, None, None

    def add_input(self, accumulator, value):
        return self.merge_accumulators([accumulator, (1, *value)])

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        located = [a for a in accumulators if a[1] is not None]
        first = min(located, key=lambda a: a[1]) if located else (0, None, None)
        return sum(a[0] for a in accumulators), first[1], first[2]

    def extract_output(self, accumulator):
        return accumulator


class CleaningFigures(beam.PTransform):
    """(location, raw row) -> one dict: `counts` (rows read, removed per rule, bot-like users),
    `keep` (digest of each duplicated row -> location of the copy kept) and `bots` (digests of
    the bot-like users): what KeepClean needs, none of it a raw value."""

    def __init__(self, rule: Cleaning, user_column: Optional[str], salt: bytes):
        super().__init__()
        self._rule = rule
        self._user = user_column
        self._salt = salt

    def expand(self, located):
        rule, user, salt = self._rule, self._user, self._salt
        counts = [_named_count(located, ROWS_READ)]
        if rule.timestamp_range:
            parts = located | "InTimeRange" >> beam.Partition(
                lambda lr, _: int(_in_time_range(rule, lr[1])), 2)
            counts.append(_named_count(parts[0], TIMESTAMP_RULE))
            located = parts[1]
        bot_rule = bool(rule.max_events_per_user_hour and user)
        sides = {}
        if rule.drop_exact_duplicates or bot_rule:
            # One element per distinct row (per row when duplicates are kept).
            distinct = (located
                        | "CopyKey" >> beam.Map(lambda lr: (
                            _row_digest(salt, lr[1]) if rule.drop_exact_duplicates else lr[0],
                            (lr[0], (_digest(salt, lr[1][user]), _hour(lr[1])) if bot_rule
                             else None)))
                        | "CopiesOfRow" >> beam.CombinePerKey(_Copies()))
        if rule.drop_exact_duplicates:
            counts.append(distinct | "Extra" >> beam.Map(lambda kv: kv[1][0] - 1)
                          | "SumExtra" >> beam.CombineGlobally(sum)
                          | f"Name[{DUPLICATE_RULE}]" >> beam.Map(lambda n: (DUPLICATE_RULE, n)))
            sides["keep"] = beam.pvalue.AsSingleton(
                distinct | "Duplicated" >> beam.Filter(lambda kv: kv[1][0] > 1)
                | "KeptCopy" >> beam.Map(lambda kv: (kv[0], kv[1][1]))
                | "KeepDict" >> beam.combiners.ToDict())
        if bot_rule:
            rate = rule.max_events_per_user_hour
            user_hours = distinct | "UserHourOfRow" >> beam.Map(lambda kv: kv[1][2])
            bots = (user_hours | "OneEvent" >> beam.Map(lambda user_hour: (user_hour, 1))
                    | "EventsPerUserHour" >> beam.CombinePerKey(sum)
                    | "AboveRate" >> beam.Filter(lambda kv: kv[1] > rate)
                    | "BotUser" >> beam.Map(lambda kv: kv[0][0])
                    | "DistinctBots" >> beam.Distinct())
            counts.append(_named_count(bots, BOT_USERS))
            bot_set = beam.pvalue.AsSingleton(bots | "BotSet" >> beam.combiners.ToSet())
            counts.append(_named_count(user_hours | "RowOfBot" >> beam.Filter(
                lambda user_hour, bot_users: user_hour[0] in bot_users, bot_users=bot_set),
                BOT_RULE))
            sides["bots"] = bot_set
        return (counts | "AllCounts" >> beam.Flatten()
                | "CountsDict" >> beam.combiners.ToDict()
                | "Figures" >> beam.Map(lambda named, keep=None, bots=None: {
                    "counts": named, "keep": keep or {}, "bots": bots or set()}, **sides))


def is_clean(located: Tuple, figures: Dict, rule: Cleaning, user_column: Optional[str],
             salt: bytes) -> bool:
    """Whether a located raw row passes every rule, given CleaningFigures' dict."""
    location, row = located
    if rule.timestamp_range and not _in_time_range(rule, row):
        return False
    keep = figures["keep"]
    if keep and keep.get(_row_digest(salt, row), location) != location:
        return False
    return not (figures["bots"] and _digest(salt, row[user_column]) in figures["bots"])


class KeepClean(beam.PTransform):
    """(location, raw row) -> the located rows that pass every rule (figures: CleaningFigures'
    output over the same rows, with the same salt)."""

    def __init__(self, rule: Cleaning, user_column: Optional[str], salt: bytes, figures):
        super().__init__()
        self._rule = rule
        self._user = user_column
        self._salt = salt
        self._figures = figures

    def expand(self, located):
        return located | "IsClean" >> beam.Filter(
            is_clean, beam.pvalue.AsSingleton(self._figures), self._rule, self._user, self._salt)


def summarize(counts: Dict[str, int], rule: Optional[Cleaning]) -> Optional[Dict]:
    """The masking report's `cleaning` section: rows removed per rule, with its setting."""
    if rule is None:
        return None
    rules = {
        TIMESTAMP_RULE: {"setting": rule.timestamp_range,
                         "rows_removed": counts.get(TIMESTAMP_RULE, 0)},
        DUPLICATE_RULE: {"setting": rule.drop_exact_duplicates,
                         "rows_removed": counts.get(DUPLICATE_RULE, 0)},
        BOT_RULE: {"setting": rule.max_events_per_user_hour,
                   "rows_removed": counts.get(BOT_RULE, 0),
                   "users_removed": counts.get(BOT_USERS, 0)},
    }
    removed = sum(r["rows_removed"] for r in rules.values())
    rows_read = counts.get(ROWS_READ, 0)
    share = removed / rows_read if rows_read else 0.0
    return {"rows_read": rows_read, "rows_removed": removed, "removed_row_share": share,
            "max_removed_row_share": rule.max_removed_row_share,
            "budget_exceeded": share > rule.max_removed_row_share, "rules": rules}


def lines(section: Dict) -> List[Tuple[str, str, int]]:
    """(rule, setting, rows removed) for the HTML report and the run summary."""
    def setting(name, value):
        if value is None or value is False:
            return "off"
        if name == TIMESTAMP_RULE:
            return f"keep {value[0]}..{value[1]} (Unix s)"
        if name == BOT_RULE:
            return f"> {value} events in a clock hour"
        return "on"
    return [(name, setting(name, section["rules"][name]["setting"]),
             section["rules"][name]["rows_removed"]) for name in RULES]
