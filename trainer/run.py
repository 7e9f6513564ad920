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
    train = _dataset(fn_args, fn_args.train_files, tft_output, batch_size)
    evaluation = _dataset(fn_args, fn_args.eval_files, tft_output, batch_size)
    logging.info("DP training: %d examples, batch %d, %d steps", num_examples, batch_size, steps)
    model.fit(train, steps_per_epoch=steps, epochs=1, validation_data=evaluation,
              validation_steps=max(1, fn_args.eval_steps or 5), verbose=0,
              callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])

    report = privacy.account(num_examples, batch_size, steps, config["noise_multiplier"],
                             config["l2_norm_clip"], config["delta"],
                             config.get("target_epsilon"))
    logging.info("Privacy: epsilon=%.3f at delta=%.2e", report.epsilon, report.delta)
    module = export.ExportModule(model, tft_output, catalog, config, report.epsilon)
    export.export(module, fn_args.serving_model_dir, report.to_dict())
