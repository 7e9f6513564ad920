"""Every setting of privrec in one place (pipeline, masking, model, DP, evaluation, serving).

Build one with `PipelineConfig(...)` / `dataclasses.replace`; everything else reads from it.
"""
import dataclasses
import os
from typing import Dict, List, Optional

import privrec  # noqa: F401  (runtime switches)
from components.masking import policy as masking_policy

PIPELINE_NAME = "privrec"
MODEL_NAME = "privrec"

# Curated schemas of the masked examples (pipeline/schema/): the masking policy decides the
# generalised values (birth bands, regions), so each committed policy has its schema.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
CURATED_SCHEMAS = {
    masking_policy.DEFAULT_POLICY: os.path.join(SCHEMA_DIR, "default.pbtxt"),
    masking_policy.TINY_POLICY: os.path.join(SCHEMA_DIR, "tiny.pbtxt"),
    masking_policy.TINY_AUDIT_POLICY: os.path.join(SCHEMA_DIR, "tiny.pbtxt"),
    masking_policy.MOVIELENS_POLICY: os.path.join(SCHEMA_DIR, "movielens.pbtxt"),
}
STRING_LENGTH_CHECKS = os.path.join(SCHEMA_DIR, "string_lengths.pbtxt")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """Model and user-level DP-SGD hyperparameters; passed to the Trainer as custom_config."""
    embedding_dim: int = 32
    query_max_tokens: int = 16      # MiniLM WordPiece tokens, with [CLS] and [SEP]
    title_max_tokens: int = 16
    history_length: int = 5
    negatives_per_step: int = 64    # uniform catalog negatives, shared by the batch
    users_per_step: float = 16      # expected users per DP-SGD step (Poisson sampling)
    max_examples_per_user: int = 8  # examples of a sampled user in one step (at most)
    batch_size: int = 64            # evaluation batches (training batches are users)
    epochs: int = 1                 # times each user is sampled, on average
    learning_rate: float = 3e-3
    l2_norm_clip: float = 1.0
    noise_multiplier: float = 0.8
    target_epsilon: Optional[float] = None  # set: noise_multiplier is calibrated to reach it
    warm_start: bool = False        # continue from the last blessed model (ε composes with it)
    init_from: Optional[str] = None  # continue this model version dir instead (privrec finetune)
    delta: Optional[float] = None   # None: 1 / number of users in the training split
    distribution: str = "auto"      # tf.distribute strategy: auto|mirrored|one_device|default
    mixed_precision: bool = False   # layers in float16 (GPU) / bfloat16; loss and DP in float32
    top_k: int = 10                 # items returned by the serving signature
    eval_ks: tuple = (10, 50, 100)  # Recall@K and NDCG@K computed by the Evaluator


@dataclasses.dataclass(frozen=True)
class DistributionThresholds:
    """Largest distance allowed per feature between two data sets' TFDV statistics
    (components/validation/distribution.py): L-infinity (largest difference in a value's share)
    for categorical features, approximate Jensen-Shannon divergence (histograms) for numeric
    ones. A feature not listed is not compared."""
    l_infinity: Dict[str, float]
    jensen_shannon: Dict[str, float]


# Drift: this run's statistics vs the previous run's (with daily spans: the previous span's).
DRIFT_THRESHOLDS = DistributionThresholds(
    l_infinity={"event_type": 0.1, "gender": 0.1, "city": 0.15, "birth_date": 0.2},
    jensen_shannon={"order_amount": 0.5})
# Skew: this run's eval split (the latest share of the time range, the stand-in for serving
# traffic) vs its train split. Looser than drift: the eval split is a tenth of the data.
SKEW_THRESHOLDS = DistributionThresholds(
    l_infinity={"event_type": 0.15, "gender": 0.15, "city": 0.2, "birth_date": 0.25},
    jensen_shannon={"order_amount": 0.6})


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    data_dir: str                       # holds catalog.csv and interactions/*.csv
    pipeline_root: str
    serving_root: str                   # Pusher writes <serving_root>/<model_name>/<version>/
    metadata_path: str
    model_name: str = MODEL_NAME
    pipeline_name: str = PIPELINE_NAME
    eval_fraction_buckets: tuple = (9, 1)  # train:eval share of the time range (latest = eval)
    allow_dev_key: bool = False         # pseudonymise with a public dev key (never in production)
    masking_policy: str = masking_policy.DEFAULT_POLICY  # YAML: a role for every input column
    schema_path: Optional[str] = None   # curated schema of the masked examples; None: the
                                        # policy's in CURATED_SCHEMAS
    # ExampleValidator's custom validation (average string lengths); None: none (Kubeflow V2
    # cannot compile it, pipeline/kubeflow_v2_runner.py)
    string_length_checks: Optional[str] = STRING_LENGTH_CHECKS
    drift: Optional[DistributionThresholds] = DRIFT_THRESHOLDS  # None: no drift check
    skew: Optional[DistributionThresholds] = SKEW_THRESHOLDS    # None: no skew check
    trainer: TrainerConfig = TrainerConfig()
    train_steps: Optional[int] = None   # None: trainer.epochs over the training split
    recall_metric: str = "recall_at_10"
    recall_floor: float = 0.05          # Evaluator blesses only models at or above this
    recall_max_regression: float = 0.01  # ... that lose at most this much vs. the last blessed
    epsilon_budget: float = 10.0        # ... and whose DP ε (recorded by the Trainer) is at most this
    beam_pipeline_args: List[str] = dataclasses.field(
        default_factory=lambda: ["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    kubeflow_image: str = "privrec:latest"

    @property
    def catalog_path(self) -> str:
        return os.path.join(self.data_dir, "catalog.csv")

    @property
    def interactions_dir(self) -> str:
        return os.path.join(self.data_dir, "interactions")

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
        metadata_path=os.path.join(work_dir, "metadata.sqlite"),
        **overrides)


def trainer_custom_config(config: PipelineConfig) -> Dict:
    """The Trainer's / Transform's custom_config: JSON-serialisable, recorded in MLMD."""
    return {"catalog_path": config.catalog_path, **dataclasses.asdict(config.trainer)}


# Serving
SERVING_PORT = 8500
SERVING_SIGNATURE = "serving_default"
EVAL_SIGNATURE = "eval"
SERVING_MAX_BATCH_SIZE = 1024              # rows per Predict request; more: INVALID_ARGUMENT
SERVING_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # gRPC receive/send limit (gRPC's own default)
SERVING_TOKENS_FILE_ENV = "PRIVREC_SERVING_TOKENS_FILE"  # bearer tokens, one per line
