"""Membership inference audit: TF-Privacy's attack library on privrec's scores, the user
hold-out, and `privrec audit` end to end on the tiny data set (DP and non-DP side by side),
quiet, with its section in the run report."""
import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from audit import membership_inference, run as audit_run, user_holdout
from components.masking import pseudonymizer
from components.model_card import card as model_card
from privrec.data import generator, schema, time_window
from tests.support import quiet_command


def _scores(rng, users, loss_mean, side):
    user = np.repeat([f"{side}-{i}".encode() for i in range(users)], 6)
    loss = rng.normal(loss_mean, 0.5, size=len(user))
    rank = np.maximum(1, np.round(np.exp(loss))).astype(np.float32)
    return {"user": user, "loss": loss, "rank": rank}


def test_attack_separates_memorised_users_and_not_identical_ones():
    rng = np.random.default_rng(0)
    leaked = membership_inference.attack(_scores(rng, 200, 2.0, "in"),
                                         _scores(rng, 200, 3.0, "out"))
    same = membership_inference.attack(_scores(rng, 200, 3.0, "in"),
                                       _scores(rng, 200, 3.0, "out"))
    for level in ("user", "example"):
        best = membership_inference.most_vulnerable(leaked[level])
        assert best["auc"] > 0.9 and best["advantage"] > 0.6, leaked[level]
        overall = [r for r in same[level] if r["slice"] == "all users"]
        assert {r["attack"] for r in overall} == {"threshold_attack", "logistic_regression"}
        assert all(abs(r["auc"] - 0.5) < 0.1 for r in overall), same[level]
    user_rows = [r for r in leaked["user"] if r["slice"] == "all users"]
    assert user_rows[0]["members"] == 200 and user_rows[0]["non_members"] == 200


def test_holdout_keeps_every_row_and_splits_whole_users(tmp_path):
    data = generator.write_dataset(str(tmp_path / "data"), "tiny")
    split = user_holdout.split(data, str(tmp_path / "out"), share=0.4, seed=3)
    with open(os.path.join(data, schema.INTERACTIONS_DIR, "data.csv"), newline="") as f:
        original = list(csv.DictReader(f))
    members = user_holdout.read_rows(os.path.join(split["members_dir"], schema.INTERACTIONS_DIR,
                                                  "data.csv"))
    held = user_holdout.read_rows(split["non_members"])
    assert len(members) + len(held) == len(original)
    assert not {r["user_id"] for r in members} & {r["user_id"] for r in held}
    assert split["non_member_users"] + split["member_users"] == len(
        {r["user_id"] for r in original})
    assert 0.2 < split["non_member_users"] / len({r["user_id"] for r in original}) < 0.6
    assert time_window.read(os.path.join(split["members_dir"], schema.INTERACTIONS_DIR)) == \
        generator.TIME_WINDOW  # the members cover the same public period
    again = user_holdout.split(data, str(tmp_path / "again"), share=0.4, seed=3)
    assert again["non_member_users"] == split["non_member_users"]  # depends on ids and seed only


def test_held_out_rows_are_masked_and_k_anonymised_like_the_members(tmp_path):
    """Without the k-anonymity step, held-out users of rare classes would be attackable as
    'non-members' by construction: their quasi-identifiers are suppressed as the members' are."""
    from components.masking import policy
    data = generator.write_dataset(str(tmp_path / "data"), "tiny")
    rows = user_holdout.read_rows(os.path.join(data, schema.INTERACTIONS_DIR, "data.csv"))
    loner = {**rows[0], "user_id": "lonely-user", "birth_date": "1901-02-03",
             "city": "Nowhere", "query": "call me on 13912345678"}
    key = pseudonymizer.load_key(allow_dev_key=True)
    examples = membership_inference.mask_rows(rows + [loner] * 3, policy.load(policy.TINY_POLICY),
                                              key, max_timestamp=2 ** 62)
    users = {membership_inference._feature(e, schema.USER_ID) for e in examples}
    assert len(users) == 81 and len(examples) == len(rows) + 3  # no row is dropped
    lonely = pseudonymizer.pseudonymize(tf.constant(["lonely-user"]), key).numpy()[0]
    lonely_examples = [e for e in examples
                       if membership_inference._feature(e, schema.USER_ID) == lonely]
    assert len(lonely_examples) == 3  # alone in its class: cells suppressed, as ingestion would
    assert {(membership_inference._feature(e, "birth_date"),
             membership_inference._feature(e, "city")) for e in lonely_examples} == {(b"*", b"*")}
    assert not any(b"13912345678" in e for e in examples)


@pytest.mark.heavy  # two pipeline runs of its own (DP and non-DP): CI, not `make test`
def test_privrec_audit_attacks_the_dp_and_the_non_dp_model(tmp_path):
    work = tmp_path / "audit"
    # 43 member users at 16 per step spend a user-level ε of ~16 in 40 steps: above the default
    # budget of 10, which would leave the DP model unpushed and its card unwritten.
    audit = quiet_command.run(work, "audit", "--size", "tiny", "--train-steps", "40",
                              "--epsilon-budget", "30")
    printed = audit.stdout
    report = json.loads((work / audit_run.JSON_FILE).read_text())
    assert set(report["models"]) == {"DP", "non-DP"}
    dp, non_dp = report["models"]["DP"], report["models"]["non-DP"]
    assert math.isfinite(dp["epsilon"]) and dp["noise_multiplier"] > 0
    assert non_dp["epsilon"] == math.inf and non_dp["noise_multiplier"] == 0
    assert dp["steps"] == non_dp["steps"] == 40
    for model in (dp, non_dp):
        for level in ("user", "example"):
            rows = model[level]
            assert {r["slice"] for r in rows} == {"all users", "heavy users", "light users"}
            assert all(0 <= r["auc"] <= 1 and math.isfinite(r["advantage"]) for r in rows)
        overall = next(r for r in model["user"] if r["slice"] == "all users")
        # Members with rows in the training split (k-anonymity may suppress a few users).
        assert 0.8 * report["holdout"]["member_users"] <= overall["members"] \
            <= report["holdout"]["member_users"]
        # Held-out users go through the same k-anonymity step: 34 users at k_min 3 lose ~20 %.
        assert 0.5 * report["holdout"]["non_member_users"] <= overall["non_members"] \
            <= report["holdout"]["non_member_users"]
    assert report["non_member_examples"] > 100 and report["member_examples"] > 100
    assert "non-DP" in printed and "logistic_regression" in printed
    assert "held-out users" in (work / audit_run.HTML_FILE).read_text()
    # The run report: the audit's section beside its pipeline run's, with the ROC curves.
    assert "id='audit'><h2>Membership inference audit</h2>" in audit.page
    assert "id='privacy'><h2>Training and privacy</h2>" in audit.page
    assert audit.page.count("true positive rate") >= 4
    # The pushed DP model's internal card carries the attack's results, read from this report;
    # the released card next to the pushed model only says where they are (exact AUCs on
    # private users are not DP).
    assert len(report["model_cards"]) == 2, "the audit's DP model was not pushed"
    released_dir, internal_dir = report["model_cards"]
    released = json.loads((Path(released_dir) / model_card.JSON_FILE).read_text())
    assert set(released["membership_inference"]) == {"where"}
    assert released["differential_privacy"]["epsilon"] == dp["epsilon"]
    for directory in [internal_dir]:
        card = json.loads((Path(directory) / model_card.JSON_FILE).read_text())
        section = card["membership_inference"]
        assert "membership_inference" not in card["not_yet"]
        assert card["differential_privacy"]["epsilon"] == dp["epsilon"]
        for name, model in report["models"].items():
            for level in ("user", "example"):
                overall = [r for r in model[level] if r["slice"] == "all users"]
                assert section["models"][name][level]["all_users"]["auc"] == max(
                    r["auc"] for r in overall)
                assert section["models"][name][level]["most_vulnerable"]["auc"] == max(
                    r["auc"] for r in model[level])
        assert section["non_member_users"] == report["holdout"]["non_member_users"]
        assert "Membership inference" in (Path(directory) / model_card.HTML_FILE).read_text()
    assert "model card with these results" in printed
    # Held-out users' raw rows stay outside the pipeline root (raw input, like the data dir).
    root = work / "pipeline" / "pipeline_root"
    held = user_holdout.read_rows(str(work / "holdout" / user_holdout.NON_MEMBERS_FILE))
    phones = {r["phone"] for r in held if len(r["phone"]) > 8}
    for dirpath, _, files in os.walk(root):
        for name in files:
            data = open(os.path.join(dirpath, name), "rb").read()
            assert not any(p.encode() in data for p in list(phones)[:20]), name
