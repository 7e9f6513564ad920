"""The Examples artifact the masking ExampleGen publishes, written as TFX's
BaseExampleGenExecutor.Do writes it (gzipped TFRecords per split, split names, payload and file
format), with one difference: TFX's `write_split.WriteSplit` shuffles every split (a Reshuffle),
and on a runner that holds shuffles in memory that alone held the whole output, ~1.7 KB per row.
So TFX's WriteSplit runs only where shuffles spill; elsewhere the same records are written
unshuffled.
"""
import os
from typing import Any, Dict, List

import apache_beam as beam
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.types import Artifact, artifact_utils, standard_component_specs

from privrec import beam_dependencies


def shuffles_spill(beam_pipeline_args) -> bool:
    """Whether the Beam runner's shuffles spill to disk and spread work over workers (Dataflow,
    Flink, Spark...), not the DirectRunner's, which holds a shuffled PCollection in memory."""
    return not beam_dependencies.runs_locally(beam_pipeline_args)


class WriteExamples(beam.PTransform):
    """{split name: PCollection[serialized tf.Example]} -> the splits' files under the Examples
    artifact (Split-<name>/data_tfrecord-*.gz); TFX's WriteSplit (shuffled) when `shuffle`."""

    def __init__(self, examples: List[Artifact], exec_properties: Dict[str, Any],
                 shuffle: bool):
        super().__init__()
        self._examples, self._exec_properties, self._shuffle = (examples, exec_properties,
                                                                shuffle)

    def expand(self, splits):
        file_format = self._exec_properties.get(
            standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        for name, split in splits.items():
            uri = artifact_utils.get_split_uri(self._examples, name)
            if self._shuffle:
                _ = split | f"WriteSplit[{name}]" >> write_split.WriteSplit(
                    uri, file_format, self._exec_properties)
                continue
            _ = (split
                 | f"MaybeSerialize[{name}]" >> beam.ParDo(write_split.MaybeSerialize())
                 | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                     os.path.join(uri, write_split.DEFAULT_TF_RECORD_FILE_NAME),
                     file_name_suffix=".gz"))
        return beam.pvalue.PDone(next(iter(splits.values())).pipeline)


def record_splits(examples: List[Artifact], input_config, output_config) -> None:
    """The split names on the artifact, as BaseExampleGenExecutor.Do sets them."""
    artifact_utils.get_single_instance(examples).split_names = (
        artifact_utils.encode_split_names(example_gen_utils.generate_output_split_names(
            input_config, output_config)))


def record_formats(examples: List[Artifact], exec_properties: Dict[str, Any], span: int,
                   version: int) -> None:
    """Payload and file format (as BaseExampleGenExecutor.Do sets them) and span/version as
    artifact properties: the driver records them as custom properties only, and TFX's span
    resolver functions (rolling_range, pipeline/pipeline.py) read the artifact properties."""
    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    for artifact in examples:
        if payload_format:
            examples_utils.set_payload_format(artifact, payload_format)
        if file_format:
            examples_utils.set_file_format(artifact, write_split.to_file_format_str(file_format))
        artifact.span = span
        artifact.version = version
