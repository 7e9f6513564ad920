"""Neighbouring data sets differ by one user everywhere (issue #29, section 2).

User-level DP-SGD bounds what the model reveals about adding or removing one user's *training
examples*. That is a guarantee about the raw data only if adding or removing one user's raw
rows changes no other user's training examples. Here the tiny shop D, D plus one new user and D
minus one user go through the real masking ExampleGen executor (cleaning, masking, k-anonymity,
the time split) and Transform's preprocessing_fn (tft_beam, as the Transform component runs
it) under one pseudonym key, and every other user's transformed training examples must be
byte-identical across the three.

The neighbours are chosen to hit the two rules that used to break this: the new user has rows
before and after the data set's time window (a split cut at the data's own first and last
timestamps moved every user's split), and the removed user is one of exactly k_min users of an
equivalence class (row suppression then suppressed the class's other users' rows too).
"""
import collections
import functools
import os

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.public import tfxio

from components.masking import executor, pseudonymizer, report
from components.masking import policy as policy_lib
from components.masking.component import MaskingExampleGen, MaskingReport
from pipeline import configs
from privrec.data import generator, schema
from trainer import features

NEW_USER = {"user_id": "neighbour-new-user", "name": "Ada Newcombe", "phone": "13900001111",
            "email": "ada.newcombe@example-mail.com", "address": "1 Torstrasse, Berlin",
            "birth_date": "1992-06-01", "gender": "F", "city": "Berlin"}
DAY = 86400


def _write_variant(tmp_path, name, rows):
    """A copy of the tiny shop whose interactions are `rows` (same catalog, same window)."""
    data_dir = str(tmp_path / name)
    generator.write_dataset(data_dir, "tiny")
    generator.write_csv(os.path.join(data_dir, schema.INTERACTIONS_DIR, "data.csv"), rows,
                        schema.INTERACTION_COLUMNS)
    return data_dir


def _user_in_a_class_of_exactly_k_min(rows, masking_policy):
    """A user whose (birth band, region) class has exactly k_min users: removing them leaves
    the class's other users below k_min."""
    width = int(masking_policy.columns["birth_date"].params["width"])
    regions = masking_policy.columns["city"].params
    classes = collections.defaultdict(set)
    for row in rows:
        band = int(row["birth_date"][:4]) // width * width
        classes[(band, regions["mapping"].get(row["city"], regions["default"]))].add(
            row["user_id"])
    exact = [sorted(users) for users in classes.values()
             if len(users) == masking_policy.k_anonymity.k_min]
    assert exact, "the tiny shop has no class of exactly k_min users; pick another neighbour"
    return exact[0][0]


def _new_user_rows(rows):
    """One new user: a few interactions inside the window, one a week before its start and one
    three weeks after its end (a per-row rule must clamp them, not move the cut-off)."""
    start, end = generator.TIME_WINDOW
    times = [start - 7 * DAY, start + 10 * DAY, start + 30 * DAY, end - DAY, end + 21 * DAY]
    return [{**template, **NEW_USER, schema.TIMESTAMP: str(t), schema.RECENT_ITEM_IDS: "",
             schema.QUERY: "wireless headphones"}
            for template, t in zip(rows[::600], times)]


def _ingest(data_dir, output_dir, masking_policy):
    """The masking ExampleGen executor, as the pipeline configures it, on data_dir."""
    config = configs.local_config(output_dir, data_dir=data_dir)
    component = MaskingExampleGen(config.interactions_dir, masking_policy,
                                  config.eval_fraction_buckets, time_windows=config.time_windows)
    exec_properties = {
        name: proto_utils.proto_to_json(value) if hasattr(value, "DESCRIPTOR") else value
        for name, value in component.exec_properties.items() if value is not None}
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(output_dir, "examples")
    masking_report = MaskingReport()
    masking_report.uri = os.path.join(output_dir, "report")
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY: [examples],
                                executor.REPORT_KEY: [masking_report]}, exec_properties)
    return examples, report.read(masking_report.uri)


def _transformed_train(examples, output_dir, catalog_path):
    """Transform's preprocessing_fn over the train split (tft_beam, the curated schema that
    Transform gets from ImportSchemaGen) -> serialized transformed tf.Examples."""
    curated = schema_pb2.Schema()
    with open(configs.CURATED_SCHEMAS[policy_lib.TINY_POLICY]) as f:
        text_format.Parse(f.read(), curated)
    source = tfxio.TFExampleRecord(
        file_pattern=os.path.join(artifact_utils.get_split_uri([examples], "train"), "*"),
        schema=curated)
    custom_config = {**configs.trainer_custom_config(configs.local_config(output_dir)),
                     "catalog_path": catalog_path}
    out = os.path.join(output_dir, "transformed", "train")
    with beam.Pipeline() as pipeline, tft_beam.Context(
            temp_dir=os.path.join(output_dir, "tft_tmp")):
        raw = pipeline | "Read" >> source.BeamSource()
        (transformed, metadata), _ = (
            (raw, source.TensorAdapterConfig())
            | tft_beam.AnalyzeAndTransformDataset(functools.partial(
                features.preprocessing_fn, custom_config=custom_config)))
        coder = tft.coders.ExampleProtoCoder(metadata.schema)
        _ = (transformed | "Encode" >> beam.Map(coder.encode)
             | "Write" >> beam.io.WriteToTFRecord(out))
    return [bytes(record.numpy()) for record in tf.data.TFRecordDataset(
        tf.io.gfile.glob(out + "*"))]


def _by_user(serialized):
    """Serialized transformed examples -> {user key: sorted examples}, each serialized again
    deterministically (feature map in key order: the coder writes them in any order)."""
    users = collections.defaultdict(list)
    for record in serialized:
        example = tf.train.Example.FromString(record)
        key = example.features.feature[features.USER_KEY].bytes_list.value[0]
        users[key].append(example.SerializeToString(deterministic=True))
    return {user: sorted(records) for user, records in users.items()}


def test_one_user_more_or_less_changes_no_other_users_transformed_training_examples(
        tmp_path, monkeypatch):
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    key = pseudonymizer.load_key(False)
    masking_policy = policy_lib.load(policy_lib.TINY_POLICY)
    rows = generator.generate(generator.SIZES["tiny"])["interactions"]
    removed = _user_in_a_class_of_exactly_k_min(rows, masking_policy)
    variants = {"D": rows, "D_plus_one": rows + _new_user_rows(rows),
                "D_minus_one": [r for r in rows if r["user_id"] != removed]}
    transformed, reports = {}, {}
    for name, variant_rows in variants.items():
        data_dir = _write_variant(tmp_path, name, variant_rows)
        output_dir = str(tmp_path / f"{name}_out")
        examples, reports[name] = _ingest(data_dir, output_dir, masking_policy)
        transformed[name] = _by_user(_transformed_train(
            examples, output_dir, os.path.join(data_dir, schema.CATALOG_FILE)))

    def pseudonym(user_id):
        return pseudonymizer.pseudonymize(tf.constant([user_id]), key).numpy()[0]

    others = set(transformed["D"]) - {pseudonym(removed)}
    assert len(others) > 70, "most of the 80 users have training examples"
    assert pseudonym(NEW_USER["user_id"]) in transformed["D_plus_one"]
    assert pseudonym(removed) not in transformed["D_minus_one"]
    assert set(transformed["D_plus_one"]) - set(transformed["D"]) == {
        pseudonym(NEW_USER["user_id"])}
    problems = []
    for name in ("D_plus_one", "D_minus_one"):
        lost = others - set(transformed[name])
        changed = [user for user in others - lost
                   if transformed[name][user] != transformed["D"][user]]
        if lost or changed:
            problems.append(f"{name}: {len(lost)} other users lost every training example, "
                            f"{len(changed)} other users' transformed training examples differ")
    assert problems == [], f"of {len(others)} other users: {problems}"
    # The new user's rows outside the window were clamped to the first and last split (a rule
    # of the row), counted, and nothing was dropped; the removed user's class was suppressed by
    # cell, not by row.
    for name, variant_rows in variants.items():
        assert reports[name]["rows_out"] == reports[name]["rows_in"] == len(variant_rows), name
        assert reports[name]["rows_suppressed"] == 0
    assert reports["D"]["time_split"]["window"] == list(generator.TIME_WINDOW)
    assert (reports["D_plus_one"]["time_split"]["rows_before_window"],
            reports["D_plus_one"]["time_split"]["rows_after_window"]) == (1, 1)
    k_figures = reports["D_minus_one"]["k_anonymity"]
    assert k_figures["rows_with_suppressed_quasi_identifiers"] > \
        reports["D"]["k_anonymity"]["rows_with_suppressed_quasi_identifiers"]
