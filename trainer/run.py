"""TFX Trainer entry point: `run_fn` trains the two-tower model with user-level DP-SGD and
exports it."""
import math
import os

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from privrec import privacy
from privrec.privacy import span_ledger, user_sampling
from trainer import catalog as catalog_lib, devices, export, features, query_vectors
from trainer.model import TwoTowerModel


def _dataset(fn_args, file_pattern, tft_output, batch_size: int) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=True,
                                                     num_epochs=None),
        tft_output.transformed_metadata.schema)


def user_sampler(fn_args, tft_output, config) -> user_sampling.UserSampler:
    """The training split in memory, grouped by user, sampled as user-level DP-SGD needs: at
    a rate from a DP count of the users (privacy.dp_user_count), never the exact count."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        fn_args.train_files, tfxio.TensorFlowDatasetOptions(batch_size=4096, num_epochs=1,
                                                            shuffle=False),
        tft_output.transformed_metadata.schema)
    return user_sampling.UserSampler(
        user_sampling.read_examples(dataset), config["users_per_step"],
        config["max_examples_per_user"],
        count_users=lambda exact: privacy.dp_user_count(exact, config["user_count_noise"]))


def build_model(config, catalog: catalog_lib.Catalog) -> TwoTowerModel:
    model = TwoTowerModel(
        config, num_items=catalog.num_indices, item_category=catalog.category_index(),
        item_title_tokens=catalog.title_token_ids(config["title_max_tokens"]))
    model.compile(optimizer=privacy.make_optimizer(config))
    return model


def _continued_model(model_dir: str, config, catalog: catalog_lib.Catalog):
    """The Keras model of `model_dir` (export.load_keras), compiled with a fresh DP optimizer,
    and the DP runs it already spent (its ε composes with this run's)."""
    model = export.load_keras(model_dir)
    export.check_same_catalog(model, catalog, model_dir)
    changed = {k: (model.config[k], config[k]) for k in model.config if model.config[k] != config[k]}
    if changed:
        logging.warning("The continued model's architecture wins over the config: %s", changed)
    model.compile(optimizer=privacy.make_optimizer(config))
    report = export.read_privacy_report(model_dir)
    earlier = report.get("runs") or ()
    if not earlier or any("num_users" not in run for run in earlier):
        raise ValueError(f"{model_dir} was trained before user-level DP-SGD: its privacy "
                         "report has no user-level runs to compose with; train a new model")
    logging.info("Continuing %s (%d earlier DP runs)", model_dir, len(earlier))
    return model, earlier


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = fn_args.custom_config
    # First, before this function runs a TensorFlow op: MultiWorkerMirroredStrategy must
    # configure collective ops before TF initialises its devices (trainer/devices.py).
    strategy = devices.strategy(config.get("distribution", "auto"))
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    catalog = catalog_lib.Catalog.load(config["catalog_path"])

    sampler = user_sampler(fn_args, tft_output, config)
    num_users = sampler.users_counted  # the DP count: every released figure derives from it
    delta = privacy.checked_delta(config["delta"], num_users)
    users_per_step = sampler.expected_users_per_step
    steps = fn_args.train_steps or math.ceil(config["epochs"] / sampler.sampling_rate)
    # Fine-tune a given version (privrec finetune), warm start from the last blessed model, or
    # start cold.
    warm_from = config.get("init_from") or (fn_args.base_model if config.get("warm_start")
                                            else None)
    # A cold start with a popularity prior releases one (its ε composes with DP-SGD's); a
    # continued model keeps the prior it was trained with (already accounted for).
    prior_noise = None if warm_from else config.get("popularity_prior_noise")
    if config.get("target_epsilon") is not None:
        config = {**config, "noise_multiplier": privacy.noise_for_target_epsilon(
            config["target_epsilon"], num_users, users_per_step, steps, delta, prior_noise,
            config["user_count_noise"])}
        logging.info("Noise multiplier %.4f calibrated to ε = %s", config["noise_multiplier"],
                     config["target_epsilon"])
    # The privacy ledger (SpanTrainer): refuse before training if a span's cumulative ε would
    # exceed the budget.
    ledger = span_ledger.check_budget(
        config, num_users, users_per_step, steps, config["noise_multiplier"], delta,
        prior_noise, config["user_count_noise"])
    # Variables and optimizer slots are made under the strategy (trainer/devices.py), the
    # layers with the precision policy; fit() then runs train_step on every replica.
    with devices.precision_policy(config.get("mixed_precision", False)) as policy, \
            strategy.scope():
        if warm_from:
            model, earlier_runs = _continued_model(warm_from, config, catalog)
        else:
            model, earlier_runs = build_model(config, catalog), []
    if prior_noise is not None:
        model.release_popularity_prior(*sampler.user_items(features.LABEL), prior_noise)
    logging.info("Training with %s on %d replica(s), policy %s", type(strategy).__name__,
                 strategy.num_replicas_in_sync, policy)
    distinct_queries = None
    if not model.text_encoder.trainable_layers:
        # Frozen MiniLM: each distinct query's vector once, before training, instead of every
        # sampled query in every step (trainer/query_vectors.py says why DP is unchanged).
        sampler.examples = query_vectors.precompute(sampler.examples, model.text_encoder)
        distinct_queries = len(sampler.examples[query_vectors.QUERY_VECTOR].table)
    with strategy.scope():  # the mechanism's noise generator, readable from every replica
        model.dp = privacy.UserLevelDP(config["l2_norm_clip"], config["noise_multiplier"],
                                       users_per_step)
    noise_over_clip = model.dp.noise_norm_over_clip(model.trainable_variables)
    if noise_over_clip > 1:
        logging.warning(
            "Each DP step's noise has %.1f times the norm of the largest signal a step can carry "
            "(σ·√trainable values / users per step): each step's direction is mostly noise, and "
            "the model may learn little beyond what many steps average out. More users per step "
            "(TrainerConfig.users_per_step), more users, or a larger ε lower it.",
            noise_over_clip)
    evaluation = _dataset(fn_args, fn_args.eval_files, tft_output, config["batch_size"])
    eval_steps = max(1, fn_args.eval_steps or 5)
    initial_loss = model.evaluate(evaluation, steps=eval_steps, verbose=0, return_dict=True)["loss"]
    logging.info("User-level DP training: %d users (%d examples), %.1f users per step, at most "
                 "%d examples each, %d steps", sampler.num_users, sampler.num_examples,
                 users_per_step, config["max_examples_per_user"], steps)
    history = model.fit(sampler.dataset(), steps_per_epoch=steps, epochs=1, validation_data=evaluation,
                        validation_steps=eval_steps, verbose=0,
                        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])

    report = privacy.account(num_users, users_per_step, steps,
                             config["noise_multiplier"], config["l2_norm_clip"],
                             config["max_examples_per_user"], sampler.num_examples,
                             delta, config.get("target_epsilon"), earlier_runs,
                             prior_noise, config["user_count_noise"])
    logging.info("Privacy: user-level epsilon=%.3f at delta=%.2e", report.epsilon, report.delta)
    module = export.ExportModule(model, tft_output, catalog, config, report.epsilon)
    # privacy.json travels with the model (released); exact counts stay in training.json.
    export.export(module, fn_args.serving_model_dir, report.released(), training={
        "warm_started_from": warm_from, "eval_loss_before": float(initial_loss),
        "eval_loss_after": float(history.history["val_loss"][-1]),
        "training_examples": sampler.num_examples, "training_users": sampler.num_users,
        "noise_norm_over_clip": noise_over_clip,
        "query_vectors_computed_beforehand": distinct_queries})
    if ledger:
        span_ledger.write(os.path.dirname(export.training_summary_path(fn_args.serving_model_dir)),
                          ledger)
