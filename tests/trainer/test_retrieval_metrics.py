"""The gains behind NDCG@K and MRR (trainer/retrieval_metrics.py), one relevant item each."""
import math

import pytest

from trainer import retrieval_metrics


@pytest.mark.parametrize("rank, expected", [(1, 1.0), (3, 0.5), (7, 1 / 3), (10, 1 / math.log2(11)),
                                            (11, 0.0)])
def test_ndcg_at_10_gain(rank, expected):
    assert retrieval_metrics.ndcg_gain(10)(rank) == pytest.approx(expected)


def test_reciprocal_rank():
    assert [retrieval_metrics.reciprocal_rank(r) for r in (1, 4)] == [1.0, 0.25]


def test_metrics_from_ranks_match_the_definitions_and_count_unknown_items_as_misses():
    from trainer.retrieval_metrics import metrics_from_ranks
    got = metrics_from_ranks([1, 5, 0, 200], recall_ks=(10, 100), ndcg_ks=(10,))
    assert got["recall_at_10"] == 0.5 and got["recall_at_100"] == 0.5
    assert got["ndcg_at_10"] == pytest.approx((1 + 1 / math.log2(6)) / 4)
    assert got["mrr"] == pytest.approx((1 + 1 / 5 + 1 / 200) / 4)
