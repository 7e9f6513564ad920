"""The model and its DP training, built from a Trainer config: the one path the Trainer takes
(trainer/run.py: so also `privrec finetune`, `privrec privacy-report` and the audit's retrains)
and the benches take (bench/retrieval_quality.py), so a benchmark number is a product number.

1. `user_sampler`: the training examples grouped by user, sampled at a rate from a DP count of
   the users (privacy.dp_user_count), never the exact count.
2. `dp_settings`: the run's privacy settings (δ, the noise multiplier, calibrated to
   `target_epsilon` when set, the popularity prior's noise on a cold start), fixed before any
   model exists; `DPSettings.account` gives the run's privacy report.
3. `build`: a new or continued model (trainer/model.py, no DP in it) under the strategy and the
   precision policy, its DP popularity prior when the settings release one, query vectors
   computed once (frozen MiniLM), and the DPTrainer that wraps it with the mechanism
   (privrec/privacy/dp_training.py), compiled. Fit the trainer; export the model.
"""
import dataclasses
import math
from typing import Dict, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

from privrec import privacy
from privrec.privacy import user_sampling
from privrec.privacy.dp_training import DPTrainer
from trainer import catalog as catalog_lib, devices, export, features, query_vectors
from trainer import selected_item_ids
from trainer.model import TwoTowerModel


def user_sampler(examples: Dict[str, np.ndarray], config: Dict) -> user_sampling.UserSampler:
    """Examples grouped by user, Poisson-sampled at a rate from a DP count of the users."""
    return user_sampling.UserSampler(
        examples, config["users_per_step"], config["max_examples_per_user"],
        count_users=lambda exact: privacy.dp_user_count(exact, config["user_count_noise"]))


@dataclasses.dataclass(frozen=True)
class DPSettings:
    """What a run's DP-SGD and its releases are: every figure from the DP count of users."""
    num_users: int                  # the DP count
    users_per_step: float           # expected
    steps: int
    noise_multiplier: float
    l2_norm_clip: float
    max_examples_per_user: int
    delta: float
    prior_noise: Optional[float]    # set: this run releases a popularity prior
    user_count_noise: Optional[float]
    target_epsilon: Optional[float]

    def mechanism(self) -> privacy.UserLevelDP:
        return privacy.UserLevelDP(self.l2_norm_clip, self.noise_multiplier,
                                   self.users_per_step)

    def account(self, num_examples: int, earlier_runs: Sequence[Dict] = ()
                ) -> privacy.PrivacyReport:
        return privacy.account(self.num_users, self.users_per_step, self.steps,
                               self.noise_multiplier, self.l2_norm_clip,
                               self.max_examples_per_user, num_examples, self.delta,
                               self.target_epsilon, earlier_runs, self.prior_noise,
                               self.user_count_noise)

    def epsilon_spent(self, steps: int, earlier_runs: Sequence[Dict] = ()) -> float:
        """ε after the first `steps` of this run's steps, composed with `earlier_runs` (and the
        prior and the user count, released before the first step): at `self.steps` it is
        `account(...).epsilon`, by the same accountant (privacy.composed_epsilon)."""
        return privacy.composed_epsilon(
            tuple(earlier_runs) + (privacy.run_record(
                self.num_users, self.users_per_step, steps, self.noise_multiplier,
                self.prior_noise, self.user_count_noise),), self.delta)


def dp_settings(config: Dict, sampler: user_sampling.UserSampler, steps: Optional[int] = None,
                continued: bool = False) -> DPSettings:
    """The run's settings from `config` (TrainerConfig fields): `steps`, or config["epochs"]
    passes over the users; a continued model keeps the prior it was trained with (already
    accounted for), a cold start releases one when configured."""
    num_users = sampler.users_counted
    users_per_step = sampler.expected_users_per_step
    steps = steps or math.ceil(config["epochs"] / sampler.sampling_rate)
    delta = privacy.checked_delta(config.get("delta"), num_users)
    prior_noise = None if continued else config.get("popularity_prior_noise")
    noise = config["noise_multiplier"]
    if config.get("target_epsilon") is not None:
        noise = privacy.noise_for_target_epsilon(
            config["target_epsilon"], num_users, users_per_step, steps, delta, prior_noise,
            config["user_count_noise"])
        logging.info("Noise multiplier %.4f calibrated to ε = %s", noise,
                     config["target_epsilon"])
    return DPSettings(num_users, users_per_step, steps, noise, config["l2_norm_clip"],
                      config["max_examples_per_user"], delta, prior_noise,
                      config["user_count_noise"], config.get("target_epsilon"))


def new_model(config: Dict, catalog: catalog_lib.Catalog) -> TwoTowerModel:
    return TwoTowerModel(
        config, num_items=catalog.num_indices, item_category=catalog.category_index(),
        item_title_tokens=catalog.title_token_ids(config["title_max_tokens"]))


def continued_model(model_dir: str, config: Dict, catalog: catalog_lib.Catalog):
    """The Keras model of `model_dir` (export.load_keras) and the DP runs it already spent
    (its ε composes with this run's)."""
    model = export.load_keras(model_dir)
    export.check_same_catalog(model, catalog, model_dir)
    changed = {k: (model.config[k], config[k]) for k in model.config if model.config[k] != config[k]}
    if changed:
        logging.warning("The continued model's architecture wins over the config: %s", changed)
    earlier = export.read_privacy_report(model_dir).get("runs") or ()
    if not earlier or any("num_users" not in run for run in earlier):
        raise ValueError(f"{model_dir} was trained before user-level DP-SGD: its privacy "
                         "report has no user-level runs to compose with; train a new model")
    logging.info("Continuing %s (%d earlier DP runs)", model_dir, len(earlier))
    return model, list(earlier)


def weight_rare_items_first(sampler: user_sampling.UserSampler, model: TwoTowerModel,
                            exponent: float) -> None:
    """Each sampled user's k examples drawn with weight (1 + the item's DP count)^-exponent
    (TrainerConfig.rare_item_exponent): rare items first, as DP-ALS bounds each user's
    contribution. The counts are the model's popularity prior, already released and in ε."""
    if model.item_log_popularity is None:
        raise ValueError("TrainerConfig.rare_item_exponent weighs items by their DP count, "
                         "which the popularity prior releases: set popularity_prior_noise "
                         "(--popularity-prior-noise) too, or set the exponent to 0")
    if exponent < 0:
        raise ValueError(f"rare_item_exponent must be >= 0, got {exponent}")
    labels = np.asarray(sampler.examples[features.LABEL]).reshape(-1)
    # The prior holds log(1 + DP count): (1 + count)^-α = exp(-α · prior).
    sampler.weight_rows(np.exp(-exponent * model.item_log_popularity.numpy()[labels]))


def keep_ids_of_frequent_items(model: TwoTowerModel, min_count: float) -> None:
    """Own item-id rows only for the items whose DP count reaches `min_count`
    (TrainerConfig.item_id_min_count, trainer/selected_item_ids.py); the counts are the model's
    popularity prior, already released and in ε."""
    if model.item_log_popularity is None:
        raise ValueError("TrainerConfig.item_id_min_count selects items by their DP count, "
                         "which the popularity prior releases: set popularity_prior_noise "
                         "(--popularity-prior-noise) too, or leave item_id_min_count unset")
    kept = selected_item_ids.select_frequent_items(
        model.candidate_tower.item_embedding, model.item_log_popularity.numpy(), min_count)
    logging.info("Item-id rows of their own for %d of %d items (DP count >= %g)", kept,
                 model.num_items - catalog_lib.FIRST_ITEM_INDEX, min_count)


def prior_uses(config: Dict, model: TwoTowerModel) -> Dict:
    """What training read from the popularity prior's DP counts besides the logits
    (PrivacyReport.prior_uses): rare-first draws and the items given own id rows."""
    uses = {}
    if config.get("rare_item_exponent"):
        uses["rare_item_exponent"] = config["rare_item_exponent"]
    if model.candidate_tower.selected_item_ids:
        id_rows = model.candidate_tower.item_embedding.id_rows.numpy()
        first = catalog_lib.FIRST_ITEM_INDEX
        uses.update(item_id_min_count=config.get("item_id_min_count"),
                    items_with_own_id_rows=int(np.sum(id_rows[first:] >= first)))
    return uses


@dataclasses.dataclass
class Training:
    model: TwoTowerModel            # what is exported and served
    trainer: DPTrainer              # what fit() runs
    settings: DPSettings
    earlier_runs: list
    precision_policy: str
    distinct_queries: Optional[int]  # query vectors computed beforehand (frozen MiniLM)

    @property
    def noise_norm_over_clip(self) -> float:
        return self.trainer.noise_norm_over_clip()


def build(config: Dict, catalog: catalog_lib.Catalog, sampler: user_sampling.UserSampler,
          settings: DPSettings, warm_from: Optional[str] = None,
          strategy: Optional[tf.distribute.Strategy] = None) -> Training:
    """The model (new, or continued from `warm_from`) and its DP trainer (see the module
    docstring). Variables, optimizer slots and the mechanism's noise generator are made under
    `strategy` (trainer/devices.py), the layers with the precision policy."""
    strategy = strategy or tf.distribute.get_strategy()
    with devices.precision_policy(config.get("mixed_precision", False)) as policy, \
            strategy.scope():
        if warm_from:
            model, earlier_runs = continued_model(warm_from, config, catalog)
        else:
            model, earlier_runs = new_model(config, catalog), []
    if settings.prior_noise is not None:
        model.set_popularity_prior(privacy.popularity_prior(
            *sampler.user_items(features.LABEL), model.num_items, settings.prior_noise,
            first_item=catalog_lib.FIRST_ITEM_INDEX))
    if config.get("item_id_min_count") is not None:
        keep_ids_of_frequent_items(model, config["item_id_min_count"])
    if config.get("rare_item_exponent"):
        weight_rare_items_first(sampler, model, config["rare_item_exponent"])
    distinct_queries = None
    text_encoder = model.query_tower.text_encoder
    if not text_encoder.trainable_layers:
        # Frozen MiniLM: each distinct query's vector once, before training, instead of every
        # sampled query in every step (trainer/query_vectors.py says why DP is unchanged).
        if features.QUERY_TOKENS in sampler.examples:
            sampler.examples = query_vectors.precompute(sampler.examples, text_encoder)
        distinct_queries = len(sampler.examples[query_vectors.QUERY_VECTOR].table)
    with strategy.scope():
        trainer = DPTrainer(model, settings.mechanism())
        trainer.compile(optimizer=privacy.make_optimizer(config))
    return Training(model, trainer, settings, earlier_runs, policy, distinct_queries)
