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

No raw value is ever a key or a value of a Beam combine: Beam's CombineOperation logs its
elements at DEBUG level. Rows and users are keyed by a digest under a random per-run salt that
is kept nowhere (BLAKE2b), and rows are grouped with GroupByKey.
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


def _hour(row: Dict[str, str]) -> int:
    return int(row[schema.TIMESTAMP]) // 3600


def _digest(salt: bytes, *parts: str) -> bytes:
    digest = hashlib.blake2b(key=salt, digest_size=16)
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.digest()


def _named_count(pcoll, name: str):
    return (pcoll | f"One[{name}]" >> beam.Map(lambda _: 1)
            | f"Count[{name}]" >> beam.CombineGlobally(sum)
            | f"Name[{name}]" >> beam.Map(lambda n: (name, n)))


class CleanInteractions(beam.PTransform):
    """Raw rows -> {'clean': rows kept, 'counts': one {count name: n} dict}."""

    def __init__(self, rule: Cleaning, user_column: Optional[str]):
        super().__init__()
        self._rule = rule
        self._user = user_column

    def expand(self, rows):
        rule, user = self._rule, self._user
        salt = os.urandom(16)
        counts = [_named_count(rows, ROWS_READ)]
        if rule.timestamp_range:
            first, last = rule.timestamp_range
            parts = rows | "InTimeRange" >> beam.Partition(
                lambda r, _: int(first <= int(r[schema.TIMESTAMP]) <= last), 2)
            counts.append(_named_count(parts[0], TIMESTAMP_RULE))
            rows = parts[1]
        if rule.drop_exact_duplicates:
            copies = (rows
                      | "RowKey" >> beam.Map(lambda r: (_digest(salt, *(
                          f"{k}={v}" for k, v in sorted(r.items()))), r))
                      | "CopiesOfRow" >> beam.GroupByKey()
                      | "Copies" >> beam.Map(lambda kv: list(kv[1])))
            counts.append(copies | "Extra" >> beam.Map(lambda same: len(same) - 1)
                          | "SumExtra" >> beam.CombineGlobally(sum)
                          | f"Name[{DUPLICATE_RULE}]" >> beam.Map(lambda n: (DUPLICATE_RULE, n)))
            rows = copies | "OneCopy" >> beam.Map(lambda same: same[0])
        if rule.max_events_per_user_hour and user:
            rate = rule.max_events_per_user_hour
            bots = (rows | "UserHour" >> beam.Map(
                        lambda r: ((_digest(salt, r[user]), _hour(r)), 1))
                    | "EventsPerUserHour" >> beam.CombinePerKey(sum)
                    | "AboveRate" >> beam.Filter(lambda kv: kv[1] > rate)
                    | "BotUser" >> beam.Map(lambda kv: kv[0][0])
                    | "DistinctBots" >> beam.Distinct())
            counts.append(_named_count(bots, BOT_USERS))
            parts = rows | "NotBot" >> beam.Partition(
                lambda r, _, bot_users: int(_digest(salt, r[user]) not in bot_users), 2,
                bot_users=beam.pvalue.AsSingleton(bots | "BotSet" >> beam.combiners.ToSet()))
            counts.append(_named_count(parts[0], BOT_RULE))
            rows = parts[1]
        summary = (counts | "AllCounts" >> beam.Flatten()
                   | "CountsDict" >> beam.combiners.ToDict())
        return {"clean": rows, "counts": summary}


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
