"""examples_writer.py: the Examples artifact as TFX's ExampleGen writes it (gzipped TFRecords
per split, split names, payload and file format, span and version), shuffled by TFX's own
WriteSplit only where shuffles spill."""
import os

import apache_beam as beam
import pytest
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from components.masking import examples_writer

RECORDS = {"train": [b"a", b"b", b"c"], "eval": [b"d"]}
EXEC_PROPERTIES = {
    standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
    standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP}


@pytest.mark.parametrize("shuffle", [False, True])
def test_splits_are_written_as_gzipped_tfrecords_under_the_artifact(tmp_path, shuffle):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(list(RECORDS))
    with beam.Pipeline() as pipeline:
        splits = {name: pipeline | f"Create[{name}]" >> beam.Create(records)
                  for name, records in RECORDS.items()}
        _ = splits | examples_writer.WriteExamples([examples], EXEC_PROPERTIES, shuffle)
    for name, records in RECORDS.items():
        files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], name),
                                              "data_tfrecord-*.gz"))
        assert files
        written = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(
            files, compression_type="GZIP")]
        assert sorted(written) == records


def test_split_names_formats_span_and_version_are_recorded():
    examples = standard_artifacts.Examples()
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")])
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=1) for n in ("train", "eval")]))
    examples_writer.record_splits([examples], input_config, output_config)
    examples_writer.record_formats([examples], EXEC_PROPERTIES, span=3, version=2)
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval"]
    assert examples_utils.get_payload_format(examples) == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert examples_utils.get_file_format(examples) == "tfrecords_gzip"
    assert (examples.span, examples.version) == (3, 2)


def test_only_runners_whose_shuffles_spill_shuffle():
    assert not examples_writer.shuffles_spill([])
    assert examples_writer.shuffles_spill(["--runner=DataflowRunner"])
