"""`MaskingExampleGen`: a FileBasedExampleGen whose executor masks at ingestion."""
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.masking import executor


def MaskingExampleGen(input_base: str, eval_fraction_buckets=(9, 1),
                      allow_dev_key: bool = False) -> FileBasedExampleGen:
    """Ingests interaction CSVs under input_base, masked, split train/eval by time."""
    train, evaluation = eval_fraction_buckets
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train),
        example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=evaluation),
    ]))
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")]),
        output_config=output_config,
        custom_config=executor.make_custom_config(allow_dev_key),
        custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor),
    ).with_id("MaskingExampleGen")
