"""TFX Trainer entry point: `run_fn` trains the two-tower model with DP-SGD and exports it."""
import math
import os

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from trainer import catalog as catalog_lib, export, privacy
from trainer.model import TwoTowerModel


def _dataset(fn_args, file_pattern, tft_output, batch_size: int) -> tf.data.Dataset:
    return fn_args.data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(batch_size=batch_size, shuffle=True,
                                                     num_epochs=None, shuffle_seed=7),
        tft_output.transformed_metadata.schema)


def count_examples(file_pattern) -> int:
    files = tf.io.gfile.glob(file_pattern) if isinstance(file_pattern, str) else \
        [f for p in file_pattern for f in tf.io.gfile.glob(p)]
    return int(tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(0, lambda n, _: n + 1))


def build_model(config, catalog: catalog_lib.Catalog, vocab_path: str) -> TwoTowerModel:
    model = TwoTowerModel(
        config, num_items=catalog.num_indices,
        vocabulary_size=len(catalog.wordpiece_vocab()),
        item_category=catalog.category_index(),
        item_title_tokens=catalog.title_token_ids(vocab_path, config["title_max_tokens"]))
    model.compile(optimizer=privacy.make_optimizer(config))
    return model


def weights_prefix(serving_model_dir: str) -> str:
    """The Keras weights checkpoint next to Format-Serving in the Model artifact (warm starts)."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), "keras-weights", "ckpt")


def _warm_start(model: TwoTowerModel, base_model: str):
    """Restores the base model's weights (on variable creation) and returns its DP runs."""
    status = tf.train.Checkpoint(model=model).read(weights_prefix(base_model))
    report = export.read_privacy_report(base_model)
    earlier = report.get("runs") or [{k: report[k] for k in (
        "num_examples", "batch_size", "steps", "noise_multiplier")}]
    logging.info("Warm start from %s (%d earlier DP runs)", base_model, len(earlier))
    return status, earlier


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    config = fn_args.custom_config
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    catalog = catalog_lib.Catalog.load(config["catalog_path"])
    vocab_path = catalog.write_vocab(os.path.join(fn_args.model_run_dir, "vocab"))
    tf.random.set_seed(7)

    batch_size = config["batch_size"]
    num_examples = count_examples(fn_args.train_files)
    steps = fn_args.train_steps or math.ceil(config["epochs"] * num_examples / batch_size)
    if config.get("target_epsilon") is not None:
        config = {**config, "noise_multiplier": privacy.noise_for_target_epsilon(
            config["target_epsilon"], num_examples, batch_size, steps, config["delta"])}
        logging.info("Noise multiplier %.4f calibrated to ε = %s", config["noise_multiplier"],
                     config["target_epsilon"])
    model = build_model(config, catalog, vocab_path)
    warm_from = fn_args.base_model if config.get("warm_start") else None
    restore, earlier_runs = _warm_start(model, warm_from) if warm_from else (None, [])
    train = _dataset(fn_args, fn_args.train_files, tft_output, batch_size)
    evaluation = _dataset(fn_args, fn_args.eval_files, tft_output, batch_size)
    eval_steps = max(1, fn_args.eval_steps or 5)
    initial_loss = model.evaluate(evaluation, steps=eval_steps, verbose=0, return_dict=True)["loss"]
    if restore is not None:
        restore.assert_existing_objects_matched()  # catalog/architecture changed: stop here
    logging.info("DP training: %d examples, batch %d, %d steps", num_examples, batch_size, steps)
    history = model.fit(train, steps_per_epoch=steps, epochs=1, validation_data=evaluation,
                        validation_steps=eval_steps, verbose=0,
                        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])
    tf.train.Checkpoint(model=model).write(weights_prefix(fn_args.serving_model_dir))

    report = privacy.account(num_examples, batch_size, steps, config["noise_multiplier"],
                             config["l2_norm_clip"], config["delta"],
                             config.get("target_epsilon"), earlier_runs)
    logging.info("Privacy: epsilon=%.3f at delta=%.2e", report.epsilon, report.delta)
    module = export.ExportModule(model, tft_output, catalog, config, report.epsilon)
    export.export(module, fn_args.serving_model_dir, report.to_dict(), training={
        "warm_started_from": warm_from, "eval_loss_before": float(initial_loss),
        "eval_loss_after": float(history.history["val_loss"][-1])})
