"""Every setting of privrec in one place (pipeline, masking, model, DP, evaluation, serving).

Build one with `PipelineConfig(...)` / `dataclasses.replace`; everything else reads from it.
It stays one file past ~300 lines (issue #31): one place for every setting and its default is
its point.
"""
import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import privrec  # noqa: F401  (runtime switches)
from components.masking import policy as masking_policy
from components.validation.thresholds import DistributionThresholds
# The serving and eval contract (names the trainer, serving and the model card share) is the
# core's; its settings are read from here with the others.
from privrec.contract import (  # noqa: F401
    EVAL_SIGNATURE, MODEL_NAME, SERVING_MAX_BATCH_SIZE, SERVING_MAX_MESSAGE_BYTES, SERVING_PORT,
    SERVING_SIGNATURE, SERVING_TOKENS_FILE_ENV)
from privrec import metadata_store
from privrec.data import sources

PIPELINE_NAME = "privrec"

# Curated schemas of the masked examples (pipeline/schema/): the masking policy decides the
# generalised values (birth bands, regions), so each committed policy has its schema.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
CURATED_SCHEMAS = {
    masking_policy.DEFAULT_POLICY: os.path.join(SCHEMA_DIR, "default.pbtxt"),
    masking_policy.TINY_POLICY: os.path.join(SCHEMA_DIR, "tiny.pbtxt"),
    masking_policy.TINY_AUDIT_POLICY: os.path.join(SCHEMA_DIR, "tiny.pbtxt"),
    masking_policy.MOVIELENS_POLICY: os.path.join(SCHEMA_DIR, "movielens.pbtxt"),
    masking_policy.MOVIELENS_1M_POLICY: os.path.join(SCHEMA_DIR, "movielens_1m.pbtxt"),
}
STRING_LENGTH_CHECKS = os.path.join(SCHEMA_DIR, "string_lengths.pbtxt")


# Beam runner presets for `PipelineConfig.beam_pipeline_args` (`beam_args`, `privrec run
# --beam-runner`): per runner, the settings it comes with and the ones it needs from you, by
# their Beam option names (docs/scaling.md: which runner at which data size). The workers of
# every runner but "direct" need an image (SDK container) with privrec installed and
# TF_USE_LEGACY_KERAS=1 in its environment.
BEAM_RUNNERS = {
    "direct": ({"direct_running_mode": "in_memory", "direct_num_workers": 1}, ()),
    "direct-multiprocess": ({"runner": "DirectRunner", "direct_running_mode": "multi_processing",
                             "direct_num_workers": 2}, ()),
    "dataflow": ({"runner": "DataflowRunner", "autoscaling_algorithm": "THROUGHPUT_BASED",
                  "max_num_workers": 50, "machine_type": "n2-highmem-4"},
                 ("project", "region", "temp_location", "sdk_container_image")),
    "flink": ({"runner": "FlinkRunner", "environment_type": "DOCKER", "parallelism": 16},
              ("flink_master", "environment_config")),
    "spark": ({"runner": "SparkRunner", "environment_type": "DOCKER"},
              ("spark_master_url", "environment_config")),
}


def beam_args(runner: str = "direct", **settings) -> List[str]:
    """beam_pipeline_args for one of BEAM_RUNNERS; `settings` (Beam option names) add to or
    override the preset. Refuses an unknown runner or option and a missing required one."""
    from apache_beam.options import pipeline_options
    from privrec import beam_dependencies
    # The hook that spares local runs TFX's per-component sdist of itself (beam_dependencies)
    # comes with privrec's Beam arguments (local_runner.run installs it too).
    beam_dependencies.skip_tfx_package_for_local_runners()
    if runner not in BEAM_RUNNERS:
        raise ValueError(f"unknown Beam runner {runner!r}; one of {', '.join(BEAM_RUNNERS)}")
    preset, required = BEAM_RUNNERS[runner]
    merged = {**preset, **settings}
    missing = [name for name in required if merged.get(name) in (None, "")]
    if missing:
        raise ValueError(f"the {runner} Beam runner needs {', '.join(missing)} (e.g. "
                         f"--beam-setting {missing[0]}=...)")
    args = [f"--{name}={value}" for name, value in merged.items()]
    known = pipeline_options.PipelineOptions(args).get_all_options(drop_default=False)
    unknown = [name for name in merged if name not in known]
    if unknown:
        raise ValueError(f"not Beam pipeline options: {', '.join(unknown)}")
    return args


TEXT_VECTOR_DIMS = 384  # MiniLM's sentence vectors (trainer/minilm.py; tests/trainer/test_minilm.py)


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """Model and user-level DP-SGD hyperparameters; passed to the Trainer as custom_config."""
    embedding_dim: int = 32
    query_max_tokens: int = 16      # MiniLM WordPiece tokens, with [CLS] and [SEP]
    title_max_tokens: int = 16
    history_length: int = 5
    # Top MiniLM layers of the query encoder trained under DP (0: frozen). The catalog's title
    # vectors stay the pretrained encoder's; the per-user gradients grow by ~1.8M values a layer.
    text_trainable_layers: int = 0
    negatives_per_step: int = 64    # uniform catalog negatives, shared by the batch
    # False: an item is its public title vector and category alone (trainer/title_lookup.py):
    # no item-id table (catalog × embedding_dim values), but a query MLP over 384-d title means
    # (+352 × 64). Fewer values for DP-SGD to noise above ~700 items (MovieLens 1M: 183k ->
    # 79k; docs/benchmarks.md); trains through the same ghost clipping pass.
    item_id_embeddings: bool = True
    users_per_step: float = 16      # expected users per DP-SGD step (Poisson sampling)
    max_examples_per_user: int = 8  # examples of a sampled user in one step (at most)
    batch_size: int = 64            # evaluation batches (training batches are users)
    epochs: int = 1                 # times each user is sampled, on average
    learning_rate: float = 3e-3
    # Set (e.g. 0.99): the trained weights are the exponential moving average of the weights
    # over the steps (the Keras optimizer's use_ema, this momentum), which averages out part of
    # the noise the last steps added. Post-processing of the DP iterates: no ε. None: the last
    # step's weights.
    ema_momentum: Optional[float] = None
    l2_norm_clip: float = 1.0
    noise_multiplier: float = 1.5   # ε < 10 at δ 1e-6 on the tiny shop (40 steps, q ≈ 0.2)
    target_epsilon: Optional[float] = None  # set: noise_multiplier is calibrated to reach it
    # Noise multiplier of a DP popularity prior (privacy.popularity_prior) added to the logits;
    # None: no prior. Its ε composes with DP-SGD's (docs/training.md: it pays on MovieLens 1M
    # at ε <= 3, and is not worth its budget on the generated 20k shop).
    popularity_prior_noise: Optional[float] = None
    # α > 0: a sampled user's k examples of a step are drawn with weight (1 + the item's DP
    # count)^-α, rare items first (DP-ALS's per-user bounding), from the popularity prior's
    # counts (needs popularity_prior_noise or a continued model with a prior; no new release).
    # 0: uniformly.
    rare_item_exponent: float = 0.0
    # Set: only items whose DP count (the popularity prior's) reaches it have an item-id row of
    # their own; the rest share the unknown item's row (DP-FEST's frequency filter,
    # trainer/selected_item_ids.py; needs item_id_embeddings and popularity_prior_noise; no new
    # release). None: every item has its own row.
    item_id_min_count: Optional[float] = None
    # Set: title and query vectors are projected onto the catalog titles' top principal
    # directions (trainer/title_projection.py: public, no privacy budget) before the towers'
    # first layers: fewer values to noise and a cheaper DP step. None: the 384-d vectors.
    title_dims: Optional[int] = None
    warm_start: bool = False        # continue from the last blessed model (ε composes with it)
    init_from: Optional[str] = None  # continue this model version dir instead (privrec finetune)
    delta: Optional[float] = None   # None: 1/(N·ln N) or 1e-6, the smaller (privacy.default_delta)
    # Noise (stddev, in users) of the DP count of users that sets q, the steps and δ: the exact
    # count is private and q is released with the model. Its ε composes with DP-SGD's.
    user_count_noise: float = 10.0
    distribution: str = "auto"      # tf.distribute strategy: auto|mirrored|one_device|default|
                                    # multi_worker ($TF_CONFIG, one worker for now)
    mixed_precision: bool = False   # layers in float16 (GPU) / bfloat16; loss and DP in float32
    top_k: int = 10                 # items returned by the serving signature
    eval_ks: tuple = (10, 50, 100)  # Recall@K and NDCG@K computed by the Evaluator


# What `privrec run` / `make run` trains on the generated default shop (~4,000 users): ε ≤ 3 at
# the default δ (1e-6) with each step's noise below the clip norm. At 1,024 users per step
# (q ≈ 0.26) and 8 user-epochs (32 steps) the accountant calibrates σ ≈ 2.73, and σ·√D / users
# per step ≈ 0.89 for the towers' 112,096 trainable values; at 16 users per step (the
# TrainerConfig default, sized for the tiny test shop) a step is ~16× noise.
DEFAULT_SHOP_TRAINER = {"users_per_step": 1024, "epochs": 8, "target_epsilon": 3.0}

# What `privrec run` trains on MovieLens 1M (`--policy movielens_1m.yaml`; 6,038 users): the
# best user-level DP settings of docs/benchmarks.md "MovieLens 1M": 512 users per step for 80
# user-epochs (792 steps over the ~5,070 users of the time split), 256 shared negatives, items
# as their public title and genres alone, titles and queries projected to 64 dimensions,
# Adam 0.01, the DP popularity prior (σ_pop 10) with each user's examples drawn rare items
# first (α 0.5), at ε 3 and the default δ. On a per-user hold-out at ε 3: Recall@100 0.202
# without the prior, 0.230 with it, 0.240 with rare items first too (coverage@10 0.037, 0.043,
# 0.061); the 64-d titles shorten a DP step by a third (at ε 1 Recall@100 0.214 against 0.210
# with 384-d ones); the weights' moving average over the steps (momentum 0.99) adds
# 0.002-0.008 at ε 1-8; 256 shared negatives instead of 512 keep Recall@100 at ε 1-8 and
# make a DP step 36 % shorter (2.24× a non-DP one instead of 2.45×). Its Recall@10 sits near
# most-popular's (~0.02; random ranking of the 3,883 movies: 0.003), so the Evaluator's floor
# is set for that, not for the generated shop.
MOVIELENS_1M_TRAINER = {"users_per_step": 512, "epochs": 80, "max_examples_per_user": 32,
                        "negatives_per_step": 256, "item_id_embeddings": False,
                        "title_dims": 64, "learning_rate": 0.01, "popularity_prior_noise": 10.0,
                        "rare_item_exponent": 0.5, "ema_momentum": 0.99, "target_epsilon": 3.0}
MOVIELENS_1M_RECALL_FLOOR = 0.01


def policy_preset(policy_path: str) -> Dict:
    """The settings a committed policy's data set comes with, as PipelineConfig fields (the
    trainer's as a dict of TrainerConfig fields); {} for a policy without a preset."""
    if os.path.realpath(policy_path) == os.path.realpath(masking_policy.MOVIELENS_1M_POLICY):
        return {"trainer": MOVIELENS_1M_TRAINER, "recall_floor": MOVIELENS_1M_RECALL_FLOOR}
    if os.path.realpath(policy_path) == os.path.realpath(masking_policy.MOVIELENS_POLICY):
        return {"skew": MOVIELENS_100K_SKEW_THRESHOLDS}
    return {}


SPAN_FOLDER = "span-{SPAN}"  # incremental layout: interactions/span-1/*.csv, span-2/*.csv, ...


@dataclasses.dataclass(frozen=True)
class SpanConfig:
    """Incremental runs (README "Incremental runs over spans"): each run ingests the newest span
    folder, Transform and Trainer take the latest `training_spans` ingested spans, and the
    Trainer refuses to train when the cumulative ε of a span it would train on (all DP runs of
    this pipeline that may have touched that span's users, composed) exceeds epsilon_budget."""
    enabled: Optional[bool] = None  # None: on when interactions/ holds span-* folders
    training_spans: int = 2         # N: a run trains on the newest N spans
    # True (conservative): spans of one shop hold the same users, so every DP run of the
    # pipeline composes for every span. False only when spans hold disjoint users (parallel
    # composition: a span's ε composes only the runs that trained on it).
    spans_share_users: bool = True


@dataclasses.dataclass(frozen=True)
class InventoryConfig:
    """The data asset inventory (components/inventory): which values it may show."""
    max_categories: int = 50   # string columns with more distinct values (in a split) are not
                               # categorical: no top values, no Cramér's V
    top_values: int = 10       # most frequent values shown per categorical column
    min_value_count: int = 5   # values seen in fewer examples are not shown by name


@dataclasses.dataclass(frozen=True)
class Resources:
    """One component's container resources on Kubeflow (KFP's ResourceSpec); 0 / "": unset."""
    cpu_request: float = 0          # vCPUs
    cpu_limit: float = 0
    memory_request_gb: float = 0
    memory_limit_gb: float = 0
    gpu_type: str = ""              # the cluster's accelerator name, e.g. NVIDIA_TESLA_T4
    gpu_count: int = 0


# Per component id. The data stages' process peaked at 1.8 GB on 100k rows with the in-memory
# DirectRunner (docs/scaling.md; larger sizes not measured); with a distributed Beam runner the
# Beam components' containers only launch the job. A GPU for the Trainer: e.g.
# Resources(4, 8, 16, 32, gpu_type="NVIDIA_TESLA_T4", gpu_count=1).
KUBEFLOW_RESOURCES = {
    "MaskingExampleGen": Resources(cpu_request=2, cpu_limit=4, memory_request_gb=8,
                                   memory_limit_gb=16),
    "StatisticsGen": Resources(cpu_request=2, cpu_limit=4, memory_request_gb=8,
                               memory_limit_gb=16),
    "Transform": Resources(cpu_request=2, cpu_limit=4, memory_request_gb=8, memory_limit_gb=16),
    "Trainer": Resources(cpu_request=4, cpu_limit=8, memory_request_gb=16, memory_limit_gb=32),
    "Evaluator": Resources(cpu_request=2, cpu_limit=4, memory_request_gb=8, memory_limit_gb=16),
}


# Drift: this run's statistics vs the previous run's (with daily spans: the previous span's).
DRIFT_THRESHOLDS = DistributionThresholds(
    l_infinity={"event_type": 0.1, "gender": 0.1, "city": 0.15, "birth_date": 0.2},
    jensen_shannon={"order_amount": 0.5})
# Skew: this run's eval split (the latest share of the time range, the stand-in for serving
# traffic) vs its train split. Looser than drift: the eval split is a tenth of the data.
SKEW_THRESHOLDS = DistributionThresholds(
    l_infinity={"event_type": 0.15, "gender": 0.15, "city": 0.2, "birth_date": 0.25},
    jensen_shannon={"order_amount": 0.6})
# MovieLens 100K's eval split (the collection period's last tenth) holds ~150 of its 943 users, and
# gender is randomised once per user (local DP at ε 2): that randomisation alone moves gender's
# eval-vs-train L∞ past the default 0.15 in ~4 % of runs (median 0.06, 99.9th percentile ~0.22,
# over 2,000 simulated releases). MovieLens 1M's eval split holds ~1,500 users (99th percentile
# 0.04): the default holds there.
MOVIELENS_100K_SKEW_THRESHOLDS = dataclasses.replace(
    SKEW_THRESHOLDS, l_infinity={**SKEW_THRESHOLDS.l_infinity, "gender": 0.25})


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    data_dir: str                       # holds catalog.csv and interactions/*.csv
    pipeline_root: str
    serving_root: str                   # Pusher writes <serving_root>/<model_name>/<version>/
    metadata_path: str
    model_name: str = MODEL_NAME
    pipeline_name: str = PIPELINE_NAME
    eval_fraction_buckets: tuple = (9, 1)  # train:eval shares of the time window (latest = eval)
    # Public [start, end) Unix seconds the interactions cover, where the split is cut (never a
    # statistic of the data: privrec/data/time_window.py says why). None: the data declares it
    # (interactions/time_window.json, or span-N/time_window.json per span).
    time_window: Optional[Tuple[int, int]] = None
    allow_dev_key: bool = False         # pseudonymise with a public dev key (never in production)
    masking_policy: str = masking_policy.DEFAULT_POLICY  # YAML: a role for every input column
    schema_path: Optional[str] = None   # curated schema of the masked examples; None: the
                                        # policy's in CURATED_SCHEMAS
    # ExampleValidator's custom validation (average string lengths); None: none (Kubeflow V2
    # cannot compile it, pipeline/kubeflow_v2_runner.py)
    string_length_checks: Optional[str] = STRING_LENGTH_CHECKS
    drift: Optional[DistributionThresholds] = DRIFT_THRESHOLDS  # None: no drift check
    skew: Optional[DistributionThresholds] = SKEW_THRESHOLDS    # None: no skew check
    # Transform's own TFDV statistics (pre-transform: StatisticsGen's again, post-transform:
    # read by no component here); off, they cost ~30 % of Transform's time and memory that
    # grows with the rows (docs/scaling.md).
    transform_statistics: bool = False
    trainer: TrainerConfig = TrainerConfig()
    inventory: InventoryConfig = InventoryConfig()
    train_steps: Optional[int] = None   # None: trainer.epochs over the training split
    recall_metric: str = "recall_at_10"
    recall_floor: float = 0.05          # Evaluator blesses only models at or above this
    recall_max_regression: float = 0.01  # ... that lose at most this much vs. the last blessed
    epsilon_budget: float = 10.0        # ... and whose DP ε (the Trainer's record) is at most this
    beam_pipeline_args: List[str] = dataclasses.field(default_factory=beam_args)
    kubeflow_image: str = "privrec:latest"
    kubeflow_resources: Dict[str, Resources] = dataclasses.field(
        default_factory=lambda: dict(KUBEFLOW_RESOURCES))  # component id -> its container's
    spans: SpanConfig = SpanConfig()

    @property
    def catalog_path(self) -> str:
        return os.path.join(self.data_dir, "catalog.csv")

    @property
    def interactions_dir(self) -> str:
        return os.path.join(self.data_dir, "interactions")

    @property
    def span_mode(self) -> bool:
        """spans.enabled, or (None) whether interactions/ holds span folders with CSV files
        (listed through Beam's FileSystems: local or remote)."""
        if self.spans.enabled is not None:
            return self.spans.enabled
        prefix = SPAN_FOLDER.split("{")[0]
        in_spans = sources.match(self.interactions_dir, os.path.join(prefix + "*", "*.csv"))
        loose = [os.path.basename(path) for path in sources.match(self.interactions_dir, "*.csv")]
        if loose and in_spans:
            raise ValueError(
                f"{self.interactions_dir} holds both span folders ({prefix}N/) and loose CSV "
                f"files ({', '.join(loose[:3])}): span mode would ignore the files. Move them "
                "into a span folder, or set SpanConfig.enabled")
        return bool(in_spans)

    @property
    def interactions_pattern(self) -> str:
        """ExampleGen's input pattern under interactions_dir ({SPAN}: the driver takes the
        newest span folder)."""
        return os.path.join(SPAN_FOLDER, "*.csv") if self.span_mode else "*.csv"

    @property
    def time_windows(self) -> Dict[str, List[int]]:
        """The masking ExampleGen's split windows: {"*": time_window} when set, else each
        declared window by span ("0" without spans); {} when the data declares none (the
        ExampleGen then stops, naming where to declare one)."""
        from privrec.data import time_window as time_window_lib
        if self.time_window is not None:
            return {"*": list(time_window_lib.checked(*self.time_window,
                                                      "PipelineConfig.time_window"))}
        if not self.span_mode:
            declared = time_window_lib.read(self.interactions_dir)
            return {"0": list(declared)} if declared else {}
        prefix = SPAN_FOLDER.split("{")[0]
        windows = {}
        for path in sources.match(self.interactions_dir,
                                  os.path.join(prefix + "*", time_window_lib.FILE_NAME)):
            folder = os.path.dirname(path)
            span = os.path.basename(folder)[len(prefix):]
            if span.isdigit():
                windows[str(int(span))] = list(time_window_lib.read(folder))
        return windows

    @property
    def push_dir(self) -> str:
        return os.path.join(self.serving_root, self.model_name)

    @property
    def schema_file(self) -> str:
        """schema_path, or the curated schema committed for the masking policy."""
        if self.schema_path:
            return os.path.abspath(self.schema_path)
        schemas = {os.path.realpath(k): v for k, v in CURATED_SCHEMAS.items()}
        schema = schemas.get(os.path.realpath(self.masking_policy))
        if schema is None:
            raise ValueError(
                f"no curated schema for masking policy {self.masking_policy}: set "
                "PipelineConfig.schema_path (privrec --schema) to a schema of the examples it "
                f"masks, e.g. a copy of {CURATED_SCHEMAS[masking_policy.DEFAULT_POLICY]} with its "
                "birth_date and city domains changed to the policy's generalised values")
        return schema


def local_config(work_dir: str, data_dir: Optional[str] = None, **overrides) -> PipelineConfig:
    """A config that keeps every output below work_dir (data in <work_dir>/data by default)."""
    work_dir = os.path.abspath(work_dir)
    return PipelineConfig(
        data_dir=os.path.abspath(data_dir or os.path.join(work_dir, "data")),
        pipeline_root=os.path.join(work_dir, "pipeline_root"),
        serving_root=os.path.join(work_dir, "serving"),
        metadata_path=metadata_store.in_work_dir(work_dir),
        **overrides)


def trainer_custom_config(config: PipelineConfig) -> Dict:
    """The Trainer's / Transform's custom_config: JSON-serialisable, recorded in MLMD."""
    return {"catalog_path": config.catalog_path, **dataclasses.asdict(config.trainer)}

