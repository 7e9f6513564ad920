"""Cleaning rules (components/masking/cleaning.py): planted duplicates, out-of-range timestamps
and a bot-like user are removed and counted per rule; the generated data loses nothing."""
import hashlib
import os

import apache_beam as beam
import pytest
from apache_beam.testing import util as beam_testing

from components.masking import cleaning
from components.masking import policy as policy_lib
from pipeline import configs, local_runner
from privrec.data import generator, schema
from tests.components.masking.test_bad_input import assert_nothing_published

DUPLICATES, OUT_OF_RANGE, BOT_EVENTS = 20, 10, 200


def _planted():
    """The tiny data set's rows plus planted dirt, and what each rule must remove."""
    data = generator.generate(generator.SIZES["tiny"])
    rows = data["interactions"]
    dirt = [dict(r) for r in rows[100:100 + DUPLICATES]]  # exact copies
    for r in rows[500:500 + OUT_OF_RANGE // 2]:  # milliseconds, and a year before 2000
        dirt.append({**r, schema.TIMESTAMP: str(int(r[schema.TIMESTAMP]) * 1000)})
        dirt.append({**r, schema.TIMESTAMP: str(int(r[schema.TIMESTAMP]) - 10 ** 9)})
    hour = 1_700_000_000 - 1_700_000_000 % 3600
    for i in range(BOT_EVENTS):  # one user, 200 distinct events in one clock hour
        dirt.append({**rows[i], "user_id": "crawler-01", schema.TIMESTAMP: str(hour + 17 * i)})
    return data, rows + dirt


def _check(rows, rule, counts, kept):
    """Runs CleaningFigures and KeepClean on rows located by their index, as the executor does
    on two reads, and asserts the counts dict and which rows are kept (a list of indices)."""
    salt = cleaning.new_salt()
    with beam.Pipeline() as p:
        located = p | beam.Create(list(enumerate(rows)))
        figures = located | cleaning.CleaningFigures(rule, schema.USER_ID, salt)
        clean = located | cleaning.KeepClean(rule, schema.USER_ID, salt, figures)
        beam_testing.assert_that(figures | beam.Map(lambda f: f["counts"]),
                                 beam_testing.equal_to([counts]))
        beam_testing.assert_that(clean | beam.Keys(), beam_testing.equal_to(kept), label="kept")


def test_each_rule_removes_and_counts_exactly_the_planted_rows():
    rule = policy_lib.load(policy_lib.TINY_POLICY).cleaning
    data, rows = _planted()
    counts = {cleaning.ROWS_READ: len(rows), cleaning.TIMESTAMP_RULE: OUT_OF_RANGE,
              cleaning.DUPLICATE_RULE: DUPLICATES, cleaning.BOT_USERS: 1,
              cleaning.BOT_RULE: BOT_EVENTS}
    # The originals come first: each duplicated row keeps its first copy, every planted row goes.
    _check(rows, rule, counts, kept=list(range(len(data["interactions"]))))
    section = cleaning.summarize(counts, rule)
    assert section["rows_removed"] == DUPLICATES + OUT_OF_RANGE + BOT_EVENTS
    assert section["budget_exceeded"]  # 230 of 3230 rows > 5 %


def test_the_generated_data_and_the_canaries_lose_nothing():
    """The heaviest generated user, the canary user with 10 events in one hour: no bot."""
    from tests.support import canaries
    rows = generator.generate(generator.SIZES["tiny"])["interactions"]
    rows += canaries.rows(rows[len(rows) // 2])
    _check(rows, policy_lib.load(policy_lib.TINY_POLICY).cleaning,
           {cleaning.ROWS_READ: len(rows), cleaning.TIMESTAMP_RULE: 0,
            cleaning.DUPLICATE_RULE: 0, cleaning.BOT_USERS: 0, cleaning.BOT_RULE: 0},
           kept=list(range(len(rows))))


def test_rules_switched_off_remove_nothing():
    _, rows = _planted()
    off = policy_lib.Cleaning(False, None, None, 0.05)
    _check(rows, off, {cleaning.ROWS_READ: len(rows)}, kept=list(range(len(rows))))
    movielens = policy_lib.load(policy_lib.MOVIELENS_POLICY).cleaning
    assert movielens.max_events_per_user_hour is None and movielens.timestamp_range[0] < 9e8


def test_tiny_run_report_and_summary_carry_the_cleaning_counts(tiny_run):
    from pipeline import run_summary
    config, _, _ = tiny_run
    summary = run_summary.read(config)
    cleaned = summary.masking["cleaning"]
    assert cleaned["rows_read"] == summary.masking["rows_in"] > 3000  # generated + canaries
    assert cleaned["rows_removed"] == 0
    assert {name for name, _, _ in cleaning.lines(cleaned)} == {
        cleaning.TIMESTAMP_RULE, cleaning.DUPLICATE_RULE, cleaning.BOT_RULE}
    assert any(line.startswith("cleaning      : 0 of ") for line in summary.lines())


def test_dirty_data_over_the_budget_stops_ingestion_with_counts_and_publishes_nothing(tmp_path):
    """A real run: the error counts each rule, the raw file is untouched, and the failed
    ExampleGen leaves no examples: TFX removes its output dirs and publishes no artifact."""
    config = configs.local_config(str(tmp_path), allow_dev_key=True, train_steps=2,
                                  masking_policy=policy_lib.TINY_POLICY,
                                  time_window=generator.TIME_WINDOW)
    data, rows = _planted()
    generator.write_csv(config.catalog_path, data["catalog"], schema.CATALOG_COLUMNS)
    raw = os.path.join(config.interactions_dir, "data.csv")
    generator.write_csv(raw, rows, schema.INTERACTION_COLUMNS)
    digest = hashlib.sha256(open(raw, "rb").read()).hexdigest()
    with pytest.raises(Exception, match=r"cleaning: 230 of 3230 rows \(7\.1%\) removed "
                       r"\(timestamp_out_of_range 10, exact_duplicates 20, bot_like_users 200\)"
                       r"; the policy allows 5\.0%.*max_removed_row_share") as failure:
        local_runner.run(config, printer=lambda line: None)
    assert "crawler-01" not in str(failure.value)
    assert hashlib.sha256(open(raw, "rb").read()).hexdigest() == digest
    assert_nothing_published(config, "MaskingExampleGen", "Examples")

