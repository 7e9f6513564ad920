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
