"""Span mode wiring (PipelineConfig.span_mode; README "Incremental runs over spans").

- ExampleGen ingests the newest `span-{SPAN}` folder (FileBasedExampleGen's driver resolves it).
- Transform and the Trainer take the latest `SpanConfig.training_spans` spans ingested so far
  (TFX's `rolling_range` resolver function over every Examples artifact ExampleGen has made in
  this pipeline, the newest version of each span).
- The Evaluator judges on the newest span's eval split (the latest time share of the newest
  span, never trained on); older spans' eval splits are held out too and only feed the
  Trainer's validation loss.
- The Trainer is a SpanTrainer in both modes: it refuses a run that would take a span over the
  ε budget and records the per-span privacy ledger in MLMD (privrec/privacy/span_ledger.py). Outside
  span mode every run reads all of interactions/ again, as span 0: a pipeline root's runs
  compose, one privacy budget.
- The pipeline caches (enable_cache): an unchanged span, schema and config reuse the earlier
  outputs. What TFX's cache key cannot see is added to the exec properties: the pseudonym key's
  fingerprint (ExampleGen), the catalog's SHA-256 (Transform reads the catalog file) and the
  curated schema's SHA-256 (TFX's ImportSchemaGen is keyed by the file's path only).
"""
from typing import Dict

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.base import base_component
from tfx.dsl.input_resolution import canned_resolver_functions
from tfx.types import component_spec, standard_artifacts, standard_component_specs

from components.masking import pseudonymizer
from privrec.data import sources
from components.span_trainer.component import SpanTrainer
from pipeline import configs
from privrec.privacy import span_ledger

EXAMPLE_GEN_ID = "MaskingExampleGen"


def key_fingerprint(config: configs.PipelineConfig) -> str:
    """The pseudonym key's fingerprint in span mode (part of ExampleGen's cache key), else ''."""
    return pseudonymizer.load_key(config.allow_dev_key).fingerprint if config.span_mode else ""


class _ContentKeyedImportSchemaGenSpec(standard_component_specs.ImportSchemaGenSpec):
    PARAMETERS = {**standard_component_specs.ImportSchemaGenSpec.PARAMETERS,
                  "schema_sha256": component_spec.ExecutionParameter(type=str)}


class ContentKeyedImportSchemaGen(tfx.components.ImportSchemaGen):
    """ImportSchemaGen with the schema file's SHA-256 as an exec property, so that an edited
    schema is a new cache key (the executor reads only schema_file)."""
    SPEC_CLASS = _ContentKeyedImportSchemaGenSpec

    def __init__(self, schema_file: str):
        base_component.BaseComponent.__init__(self, spec=_ContentKeyedImportSchemaGenSpec(
            schema_file=schema_file, schema_sha256=sources.sha256(schema_file),
            schema=types.Channel(type=standard_artifacts.Schema)))


def schema_gen(config: configs.PipelineConfig):
    """ImportSchemaGen of the curated schema; in span mode keyed by its content too."""
    if not config.span_mode:
        return tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    return ContentKeyedImportSchemaGen(config.schema_file).with_id("ImportSchemaGen")


def custom_config(config: configs.PipelineConfig, base: Dict) -> Dict:
    """Transform's / Trainer's custom_config; in span mode with the catalog's SHA-256."""
    if not config.span_mode or not sources.exists(config.catalog_path):
        return base
    return {**base, "catalog_sha256": sources.sha256(config.catalog_path)}


def training_examples(config: configs.PipelineConfig, new_examples):
    """The Examples to train on: the latest N ingested spans in span mode, else this run's."""
    if not config.span_mode:
        return new_examples
    every_ingested = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples,
                                     producer_component_id=EXAMPLE_GEN_ID, output_key="examples")
    return canned_resolver_functions.rolling_range(
        every_ingested, num_spans=config.spans.training_spans, min_spans=1)


def latest_model(kubeflow_v2: bool):
    """The pipeline's latest Model artifact, blessed or not (the ledger so far), as (node to add
    to the pipeline or None, channel). Locally TFX's `latest_created` resolver function (empty on
    a first run). The Kubeflow V2 compiler does not compile resolver functions, so there a
    Resolver node with LatestArtifactStrategy (which, run locally, records a FAILED execution
    while the pipeline has no Model yet)."""
    models = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)
    if not kubeflow_v2:
        return None, canned_resolver_functions.latest_created(models, n=1)
    node = tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
                            model=models).with_id("LatestModelResolver")
    return node, node.outputs["model"]


def trainer(config: configs.PipelineConfig, span_examples, latest_model, **trainer_args):
    """The SpanTrainer with the budget and the pipeline's latest Model (its ledger so far)."""
    ledger_settings = {"epsilon_budget": config.epsilon_budget, "span_mode": config.span_mode,
                       "spans_share_users": config.spans.spans_share_users}
    return SpanTrainer(
        span_examples=span_examples, privacy_ledger=latest_model,
        **{**trainer_args, "custom_config": {**trainer_args["custom_config"],
                                             span_ledger.CONFIG_KEY: ledger_settings}})
