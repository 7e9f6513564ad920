"""Incremental runs over spans (pipeline/spans.py, privrec/privacy/span_ledger.py): two spans of the tiny
data set arrive one after the other; the second run ingests only the new span, trains on both,
warm-starts from the first run's blessed model, reuses cached outputs, and its per-span ε (the
ledger in MLMD) composes the first run; a budget it would exceed stops it before training."""
import csv
import dataclasses
import os

import dp_accounting
import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.masking import policy, pseudonymizer
from components.model_card import card as model_card
from components.span_trainer import executor as span_executor
from pipeline import configs, data_stages, local_runner, run_summary
from pipeline.spans import ContentKeyedImportSchemaGen
from privrec.data import generator, schema, time_window
from tests.support import pipeline_models
from tests.conftest import TINY_TRAIN_STEPS
from privrec.privacy import span_ledger
from trainer import export


def _recomputed_epsilon(runs, delta) -> float:
    """TF-Privacy's accountant (dp_accounting RDP) over the recorded DP-SGD runs and the DP
    counts of users that set their sampling rates, composed."""
    accountant = dp_accounting.rdp.RdpAccountant()
    for run in runs:
        if run.get("user_count_noise_multiplier") is not None:
            accountant.compose(dp_accounting.GaussianDpEvent(run["user_count_noise_multiplier"]))
        q = run["users_per_step"] / run["num_users"]
        accountant.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
            q, dp_accounting.GaussianDpEvent(run["noise_multiplier"])), run["steps"]))
    return accountant.get_epsilon(delta)


def _run(run, steps=10, users=80, sigma=1.0):
    return {"spans": run, "num_users": users, "users_per_step": 16, "steps": steps,
            "noise_multiplier": sigma}


def test_ledger_composes_every_run_when_spans_share_users_and_per_span_otherwise():
    runs = [_run([1]), _run([2], steps=30)]
    shared = span_ledger.span_epsilons(runs, [1, 2], 0.01, share_users=True)
    disjoint = span_ledger.span_epsilons(runs, [1, 2], 0.01, share_users=False)
    assert shared[1] == shared[2] == pytest.approx(_recomputed_epsilon(runs, 0.01))
    assert disjoint[1] == pytest.approx(_recomputed_epsilon(runs[:1], 0.01))
    assert disjoint[2] == pytest.approx(_recomputed_epsilon(runs[1:], 0.01))
    assert disjoint[1] < disjoint[2] < shared[2]


def test_budget_refusal_names_the_span_and_the_budget():
    earlier = [{**_run([1, 2]), "delta": 0.0125}]
    config = {span_ledger.CONFIG_KEY: {"spans": [2, 3], "earlier_runs": earlier,
                                       "epsilon_budget": 1.0, "spans_share_users": False}}
    with pytest.raises(span_ledger.PrivacyBudgetError,
                       match=r"training on span 2 would bring its cumulative user-level ε to "
                             r"[\d.]+ .*2 DP runs composed, 1 earlier.*epsilon_budget = 1.0"):
        span_ledger.check_budget(config, 80, 16, 10, 1.0, 0.0125)
    ledger = span_ledger.check_budget(
        {span_ledger.CONFIG_KEY: {**config[span_ledger.CONFIG_KEY], "epsilon_budget": 100}},
        80, 16, 10, 1.0, 0.0125)
    assert ledger["epsilon_by_span"]["1"] < ledger["epsilon_by_span"]["2"]
    assert ledger["epsilon_by_span"]["3"] == pytest.approx(_recomputed_epsilon(
        ledger["runs"][1:], 0.0125))


def test_the_card_shows_the_ledger_of_the_spans_a_model_trained_on():
    runs = [{"spans": [1], "num_users": 80, "users_per_step": 16, "steps": 10,
             "noise_multiplier": 1.0, "delta": 0.0125},
            {"spans": [2], "num_users": 80, "users_per_step": 16, "steps": 10,
             "noise_multiplier": 1.0, "delta": 0.0125}]
    ledger = {"runs": runs, "delta": 0.0125, "epsilon_budget": 100, "spans_share_users": False,
              "epsilon_by_span": {str(s): e for s, e in span_ledger.span_epsilons(
                  runs, [1, 2], 0.0125, share_users=False).items()}}
    section = model_card.privacy_ledger(ledger)
    assert section["max_epsilon_of_trained_spans"] == ledger["epsilon_by_span"]["2"]
    assert section["dp_runs_composed"] == 2 and "disjoint users" in section["statement"]
    shared = {**ledger, "spans_share_users": True, "epsilon_by_span": {
        str(s): e for s, e in span_ledger.span_epsilons(runs, [1, 2], 0.0125, True).items()}}
    assert model_card.privacy_ledger(shared)["max_epsilon_of_trained_spans"] > \
        section["max_epsilon_of_trained_spans"]


def _examples(span, key_fingerprint):
    artifact = tfx.types.standard_artifacts.Examples()
    artifact.span = span
    artifact.set_string_custom_property(span_executor.KEY_FINGERPRINT, key_fingerprint)
    return artifact


def test_spans_under_different_pseudonym_keys_are_refused():
    assert span_executor._spans([_examples(2, "k1"), _examples(1, "k1")]) == [1, 2]
    with pytest.raises(ValueError, match="pseudonymised under different keys.*1: 'k1', 2: 'k2'"):
        span_executor._spans([_examples(1, "k1"), _examples(2, "k2")])


def test_span_mode_follows_the_layout_and_refuses_a_mix(tmp_path):
    config = configs.local_config(str(tmp_path), data_dir=str(tmp_path / "input"))
    os.makedirs(config.interactions_dir)
    open(os.path.join(config.interactions_dir, "day.csv"), "w").close()
    assert not config.span_mode and config.interactions_pattern == "*.csv"
    os.makedirs(os.path.join(config.interactions_dir, "span-1"))
    assert not config.span_mode, "an empty span folder holds no data: not a span"
    open(os.path.join(config.interactions_dir, "span-1", "part.csv"), "w").close()
    with pytest.raises(ValueError, match=r"holds both span folders .*\(day.csv\)"):
        config.span_mode
    assert dataclasses.replace(config, spans=configs.SpanConfig(enabled=True)).span_mode


def test_building_the_pipeline_lists_interactions_once(tmp_path, monkeypatch):
    """Span mode is detected once per pipeline build (two matches: span folders, loose files),
    not at every read of config.span_mode (each a listing, remote on a bucket); one more
    listing finds the span folders' declared time windows."""
    from privrec.data import sources
    from pipeline.pipeline import create_pipeline
    config = configs.local_config(str(tmp_path), data_dir=str(tmp_path / "input"),
                                  allow_dev_key=True)
    _arrive(config, 1, [], ["user_id"])
    listings = []
    real_match = sources.match
    monkeypatch.setattr(sources, "match", lambda *a: listings.append(a) or real_match(*a))
    create_pipeline(config)
    assert [pattern for _, pattern in listings] == ["span-*/*.csv", "*.csv",
                                                    "span-*/time_window.json"]


def _split_by_time(data_dir):
    """The tiny data set's interactions split at the middle of its time window: span 1 the
    first 30 days, span 2 the next 30, each with its own window."""
    generator.write_dataset(data_dir, "tiny")
    source = os.path.join(data_dir, schema.INTERACTIONS_DIR, "data.csv")
    with open(source, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows, columns = sorted(reader, key=lambda r: int(r[schema.TIMESTAMP])), reader.fieldnames
    os.remove(source)
    os.remove(os.path.join(data_dir, schema.INTERACTIONS_DIR, time_window.FILE_NAME))
    start, end = generator.TIME_WINDOW
    middle = (start + end) // 2
    return {1: [r for r in rows if int(r[schema.TIMESTAMP]) < middle],
            2: [r for r in rows if int(r[schema.TIMESTAMP]) >= middle]}, columns


SPAN_WINDOWS = {1: time_window.TimeWindow(generator.TIME_WINDOW.start,
                                          sum(generator.TIME_WINDOW) // 2),
                2: time_window.TimeWindow(sum(generator.TIME_WINDOW) // 2,
                                          generator.TIME_WINDOW.end)}


def _arrive(config, span, rows, columns):
    folder = os.path.join(config.interactions_dir, f"span-{span}")
    generator.write_csv(os.path.join(folder, "data.csv"), rows, columns)
    time_window.write(folder, SPAN_WINDOWS[span])


@pytest.mark.heavy
def test_second_span_warm_starts_reuses_cache_and_composes_epsilon(tmp_path, monkeypatch):
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    spans, columns = _split_by_time(str(tmp_path / "input"))
    config = configs.local_config(
        str(tmp_path), data_dir=str(tmp_path / "input"), train_steps=TINY_TRAIN_STEPS,
        masking_policy=policy.TINY_POLICY, recall_floor=0.0, recall_max_regression=1.0,
        epsilon_budget=50.0, trainer=dataclasses.replace(configs.TrainerConfig(),
                                                         warm_start=True, noise_multiplier=1.5),
        # Each tiny span's eval split holds ~150 rows of randomized-response gender: its
        # L-infinity distance between the two spans moves around the default 0.1 by chance.
        drift=dataclasses.replace(configs.DRIFT_THRESHOLDS, l_infinity={
            **configs.DRIFT_THRESHOLDS.l_infinity, "gender": 0.3}))
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path)

    # Day 1: span 1 only.
    _arrive(config, 1, spans[1], columns)
    assert config.span_mode and config.interactions_pattern == "span-{SPAN}/*.csv"
    local_runner.run(config, printer=lambda line: None)
    first = run_summary.read(config)
    assert first.blessed and first.pushed and first.masking["rows_in"] == len(spans[1])
    store = mlmd.MetadataStore(connection)
    [first_model] = pipeline_models.models(config.metadata_path)
    first_ledger = span_ledger.read(first_model.uri)
    assert pipeline_models.ledger(first_model) == first_ledger
    assert [run["spans"] for run in first_ledger["runs"]] == [[1]]
    first_epsilon = first_ledger["epsilon_by_span"]["1"]
    assert first_epsilon == pytest.approx(first.privacy["epsilon"])  # one run: the same ε

    # Day 2: span 2 arrives. A budget just above day 1's ε: training on spans 1-2 would exceed
    # it, so the Trainer refuses before training and no model is made.
    _arrive(config, 2, spans[2], columns)
    tight = dataclasses.replace(config, epsilon_budget=round(first_epsilon + 0.01, 3))
    with pytest.raises(Exception, match=(
            r"training on span [12] would bring its cumulative user-level ε to [\d.]+ .*2 DP "
            rf"runs composed, 1 earlier\), over PipelineConfig.epsilon_budget = "
            rf"{tight.epsilon_budget}\. Nothing was trained")):
        local_runner.run(tight, printer=lambda line: None)
    assert len(pipeline_models.models(config.metadata_path)) == 1
    refused = run_summary.read(config)  # the masking report of the refused run: span 2 only
    assert refused.masking["rows_in"] == len(spans[2])

    # Day 2 again, within budget: everything up to Transform is reused from the refused run's
    # cache (same span, key, schema and configs); Transform had trained on spans 1 and 2.
    progress = []
    local_runner.run(config, printer=progress.append)
    cached = {line.split(": ")[1].split(" in ")[0] for line in progress if "✔ cached" in line}
    assert cached == set(data_stages.DATA_STAGES) | {"DataInventory"}, progress
    assert not any("cached: Trainer" in line for line in progress)
    second = run_summary.read(config)
    assert second.pushed, "\n".join(second.lines())
    second_model = pipeline_models.models(config.metadata_path)[-1]
    assert second_model.custom_properties[span_executor.TRAINED_SPANS].string_value == "1,2"
    examples = {a.id: a for a in store.get_artifacts_by_type("Examples")
                if a.properties["span"].int_value > 0}
    assert sorted(a.properties["span"].int_value for a in examples.values()) == [1, 2]

    # Warm start from day 1's blessed model; its release ε composes both runs (privacy.json).
    assert second.training["warm_started_from"] == os.path.join(first_model.uri,
                                                                "Format-Serving")
    assert second.privacy["runs"][0] == export.read_privacy_report(
        os.path.join(first_model.uri, "Format-Serving"))["runs"][0]

    # The ledger in MLMD: both runs, every span's ε recomputed from the recorded parameters.
    ledger = pipeline_models.ledger(second_model)
    assert ledger == span_ledger.read(second_model.uri)
    assert [run["spans"] for run in ledger["runs"]] == [[1], [1, 2]]
    assert ledger["runs"][0] == first_ledger["runs"][0]
    assert ledger["spans_share_users"] is True
    expected = _recomputed_epsilon(ledger["runs"], ledger["delta"])
    assert ledger["epsilon_by_span"] == {"1": pytest.approx(expected),
                                         "2": pytest.approx(expected)}
    assert expected > first_epsilon
    assert second.privacy["epsilon"] == pytest.approx(_recomputed_epsilon(
        second.privacy["runs"], second.privacy["delta"]))

    # The pushed model's card carries the ledger's figures beside the warm-start chain's ε.
    pushed_card = model_card.read(second.pushed_destination)
    assert pushed_card["privacy_ledger"]["trained_spans"] == [1, 2]
    assert pushed_card["privacy_ledger"]["epsilon_by_span"] == ledger["epsilon_by_span"]
    assert pushed_card["privacy_ledger"]["max_epsilon_of_trained_spans"] == pytest.approx(
        expected)
    assert pushed_card["privacy_ledger"]["dp_runs_composed"] == 2


def _import_schema_once(tmp_path, schema_file) -> bool:
    """Runs a one-node caching pipeline of the content-keyed ImportSchemaGen; True if cached."""
    component = ContentKeyedImportSchemaGen(schema_file).with_id("ImportSchemaGen")
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        str(tmp_path / "metadata.sqlite"))
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="schema-cache", pipeline_root=str(tmp_path / "root"),
        components=[component], enable_cache=True, metadata_connection_config=connection))
    [context] = [c for c in mlmd.MetadataStore(connection).get_contexts_by_type("node")
                 if c.name.endswith("ImportSchemaGen")]
    latest = max(mlmd.MetadataStore(connection).get_executions_by_context(context.id),
                 key=lambda execution: execution.id)
    return latest.last_known_state == metadata_store_pb2.Execution.CACHED


def test_an_edited_schema_is_imported_again_in_span_mode(tmp_path):
    """TFX's ImportSchemaGen is cached by the schema's path: an edited schema would be ignored."""
    schema_file = tmp_path / "schema.pbtxt"
    schema_file.write_text('feature { name: "item_id" type: BYTES }\n')
    assert not _import_schema_once(tmp_path, str(schema_file))
    assert _import_schema_once(tmp_path, str(schema_file))
    schema_file.write_text('feature { name: "item_id" type: BYTES presence { min_fraction: 1 } }\n')
    assert not _import_schema_once(tmp_path, str(schema_file))


def _examples_with_users(tmp_path, span, users):
    """An Examples artifact of one span whose train split holds one example per user."""
    import tensorflow as tf
    artifact = tfx.types.standard_artifacts.Examples()
    artifact.uri = str(tmp_path / f"span{span}")
    artifact.span = span
    artifact.split_names = '["train"]'
    os.makedirs(os.path.join(artifact.uri, "Split-train"))
    with tf.io.TFRecordWriter(os.path.join(artifact.uri, "Split-train", "data.gz"),
                              options="GZIP") as writer:
        for user in users:
            example = tf.train.Example()
            example.features.feature["user_id"].bytes_list.value.append(user.encode())
            writer.write(example.SerializeToString())
    return artifact


def test_disjoint_spans_are_checked_not_declared(tmp_path):
    """spans_share_users=False is accepted only when no pseudonym is in two trained spans."""
    from components.span_trainer import disjoint_users
    one = _examples_with_users(tmp_path, 1, ["a", "b"])
    two = _examples_with_users(tmp_path, 2, ["c", "d"])
    disjoint_users.check([one, two])
    three = _examples_with_users(tmp_path, 3, ["d", "e", "a"])
    with pytest.raises(ValueError, match=r"spans 1 and 3: 1 users; spans 2 and 3: 1 users"):
        disjoint_users.check([one, two, three])
