"""graph.MaskAndSplit on a few hundred rows through the real DirectRunner: serialized examples
per split and one figures dict (cleaning, masking, k-anonymity, split and window counts)."""
import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.testing import util as beam_testing
from tfx.proto import example_gen_pb2

from components.masking import cleaning, graph, pseudonymizer
from components.masking import policy as policy_lib
from privrec.data import generator, schema

TINY = policy_lib.load(policy_lib.TINY_POLICY)
SPLITS = [example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=9),
          example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]
ROWS = 240


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    rows = generator.generate(generator.SIZES["tiny"])["interactions"][:ROWS]
    start, end = generator.TIME_WINDOW
    rows += [rows[0],  # an exact duplicate: cleaned
             {**rows[1], schema.TIMESTAMP: str(start - 3600)},  # before the window: train
             {**rows[2], schema.TIMESTAMP: str(end + 3600)}]    # after it: eval
    path = str(tmp_path_factory.mktemp("interactions") / "data.csv")
    generator.write_csv(path, rows, schema.INTERACTION_COLUMNS)
    return path


def _check_figures(figures):
    [figures] = figures
    assert figures[graph.CLEANING_COUNTS][cleaning.ROWS_READ] == ROWS + 3
    assert figures[graph.CLEANING_COUNTS][cleaning.DUPLICATE_RULE] == 1
    assert figures[graph.STATS]["rows_in"] == ROWS + 2
    assert list(figures[graph.SPLIT_ROWS]) == ["train", "eval"]
    assert sum(figures[graph.SPLIT_ROWS].values()) == ROWS + 2
    assert figures[graph.OUTSIDE_ROWS] == {"before": 1, "after": 1}
    assert figures[graph.K_ANONYMITY]["k_min"] == TINY.k_anonymity.k_min


def _check_split(name, count_of):
    def check(records):
        examples = [tf.train.Example.FromString(r) for r in records]
        assert len(examples) == count_of[name]
        cold = [e.features.feature[schema.COLD_START_ITEM].int64_list.value[0] for e in examples]
        if name == "train":  # every training row's item is a trained item
            assert set(cold) == {0}
        for example in examples:  # raw direct identifiers never come out
            assert "name" not in example.features.feature
    return check


def test_rows_come_out_masked_split_by_time_with_their_figures(csv_path):
    key = pseudonymizer.load_key(allow_dev_key=True)
    with beam.Pipeline() as pipeline:
        masked = pipeline | graph.MaskAndSplit(TINY, key, [csv_path], SPLITS,
                                               generator.TIME_WINDOW, schema.USER_ID)
        beam_testing.assert_that(masked.figures, _check_figures, label="figures")
        counts = beam.pvalue.AsSingleton(masked.figures | beam.Map(
            lambda f: f[graph.SPLIT_ROWS]))
        for name, examples in masked.examples.items():  # a failed check fails the pipeline
            _ = (examples | f"All[{name}]" >> beam.combiners.ToList()
                 | f"Check[{name}]" >> beam.Map(lambda r, c, n=name: _check_split(n, c)(r),
                                                counts))
    assert set(masked.examples) == {"train", "eval"}
