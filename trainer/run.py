"""TFX Trainer entry point: `run_fn` trains the two-tower model with user-level DP-SGD
(built by trainer/training.py, as every bench builds it) and exports it."""
import dataclasses
import os

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from privrec.privacy import span_ledger, user_sampling
from trainer import catalog as catalog_lib, devices, export, step_progress, training


def _dataset(fn_args, file_pattern, tft_output, batch_size: int) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=True,
                                                     num_epochs=None),
        tft_output.transformed_metadata.schema)


def user_sampler(fn_args, tft_output, config) -> user_sampling.UserSampler:
    """The training split in memory, grouped by user (training.user_sampler)."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        fn_args.train_files, tfxio.TensorFlowDatasetOptions(batch_size=4096, num_epochs=1,
                                                            shuffle=False),
        tft_output.transformed_metadata.schema)
    return training.user_sampler(user_sampling.read_examples(dataset), config)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = fn_args.custom_config
    # First, before this function runs a TensorFlow op: MultiWorkerMirroredStrategy must
    # configure collective ops before TF initialises its devices (trainer/devices.py).
    strategy = devices.strategy(config.get("distribution", "auto"))
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    catalog = catalog_lib.Catalog.load(config["catalog_path"])

    sampler = user_sampler(fn_args, tft_output, config)
    # Fine-tune a given version (privrec finetune), warm start from the last blessed model, or
    # start cold.
    warm_from = config.get("init_from") or (fn_args.base_model if config.get("warm_start")
                                            else None)
    settings = training.dp_settings(config, sampler, fn_args.train_steps,
                                    continued=bool(warm_from))
    # The privacy ledger (SpanTrainer): refuse before training if a span's cumulative ε would
    # exceed the budget.
    ledger = span_ledger.check_budget(
        config, settings.num_users, settings.users_per_step, settings.steps,
        settings.noise_multiplier, settings.delta, settings.prior_noise,
        settings.user_count_noise)
    built = training.build(config, catalog, sampler, settings, warm_from, strategy)
    logging.info("Training with %s on %d replica(s), policy %s", type(strategy).__name__,
                 strategy.num_replicas_in_sync, built.precision_policy)
    noise_over_clip = built.noise_norm_over_clip
    if noise_over_clip > 1:
        logging.warning(
            "Each DP step's noise has %.1f times the norm of the largest signal a step can carry "
            "(σ·√trainable values / users per step): each step's direction is mostly noise, and "
            "the model may learn little beyond what many steps average out. More users per step "
            "(TrainerConfig.users_per_step), more users, or a larger ε lower it.",
            noise_over_clip)
    evaluation = _dataset(fn_args, fn_args.eval_files, tft_output, config["batch_size"])
    eval_steps = max(1, fn_args.eval_steps or 5)
    initial_loss = built.trainer.evaluate(evaluation, steps=eval_steps, verbose=0,
                                          return_dict=True)["loss"]
    logging.info("User-level DP training: %d users (%d examples), %.1f users per step, at most "
                 "%d examples each, %d steps", sampler.num_users, sampler.num_examples,
                 settings.users_per_step, settings.max_examples_per_user, settings.steps)
    history = built.trainer.fit(
        sampler.dataset(), steps_per_epoch=settings.steps, epochs=1, validation_data=evaluation,
        validation_steps=eval_steps, verbose=0,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir),
                   step_progress.StepProgress(settings.steps, lambda k: settings.epsilon_spent(
                       k, built.earlier_runs))])

    report = dataclasses.replace(settings.account(sampler.num_examples, built.earlier_runs),
                                 prior_uses=training.prior_uses(config, built.model))
    logging.info("Privacy: user-level epsilon=%.3f at delta=%.2e", report.epsilon, report.delta)
    module = export.ExportModule(built.model, tft_output, catalog, config, report.epsilon)
    # privacy.json travels with the model (released); exact counts stay in training.json.
    export.export(module, fn_args.serving_model_dir, report.released(), training={
        "warm_started_from": warm_from, "eval_loss_before": float(initial_loss),
        "eval_loss_after": float(history.history["val_loss"][-1]),
        "training_examples": sampler.num_examples, "training_users": sampler.num_users,
        "noise_norm_over_clip": noise_over_clip,
        "query_vectors_computed_beforehand": built.distinct_queries})
    if ledger:
        span_ledger.write(os.path.dirname(export.training_summary_path(fn_args.serving_model_dir)),
                          ledger)
