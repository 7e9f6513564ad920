"""TFMA metrics for retrieval over the whole catalog, per model (candidate/baseline):
Recall@K, NDCG@K, MRR and catalog coverage.

The model's `eval` signature returns per example `hit_at_{k}` (1 when the true item is in the
top k of a brute-force ranking of the full catalog) and `true_item_rank` (its rank among all
catalog items, 1 = first, 0 = not in the catalog) and `top_item_positions` (the catalog positions
of its top-k items, k = the served top_k) with `catalog_size`. With one relevant item per example, NDCG@K is
1/log2(rank + 1) when rank <= K (the ideal DCG is 1) and MRR is the mean of 1/rank. Unlike
`tfma.metrics.Mean` these are model-aware, so the Evaluator can compare a candidate with the
latest blessed baseline.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.metrics import metric_types


RANK_KEY = "true_item_rank"
TOP_ITEMS_KEY = "top_item_positions"
CATALOG_SIZE_KEY = "catalog_size"


def hit_key(k: int) -> str:
    return f"hit_at_{k}"


def model_predictions(element: metric_types.StandardMetricInputs, model_name: str) -> Dict:
    """The eval signature's outputs for one model (TFMA keys them by model when there are two)."""
    predictions = element.predictions
    if isinstance(predictions, dict) and model_name in predictions:
        predictions = predictions[model_name]
    return predictions


def per_model_computations(name: str, model_names: Optional[List[str]],
                           make_combiner) -> metric_types.MetricComputations:
    """One computation per model (candidate, baseline) over the predictions only."""
    computations = []
    for model_name in model_names or [""]:
        key = metric_types.MetricKey(name=name, model_name=model_name)
        computations.append(metric_types.MetricComputation(
            keys=[key],
            preprocessors=[metric_types.StandardMetricInputsPreprocessor(
                include_filter={constants.PREDICTIONS_KEY: {}}, include_default_inputs=False)],
            combiner=make_combiner(key, model_name)))
    return computations


class _MeanCombiner(beam.CombineFn):
    """Mean over examples of `value(predictions)`; examples where it is None do not count."""

    def __init__(self, key: metric_types.MetricKey, model_name: str):
        self._key, self._model_name = key, model_name

    def value(self, predictions: Dict) -> Optional[float]:
        raise NotImplementedError

    def create_accumulator(self):
        return np.zeros(2)  # [sum, examples]

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        value = self.value(model_predictions(element, self._model_name))
        if value is not None:
            accumulator += (value, 1.0)
        return accumulator

    def merge_accumulators(self, accumulators):
        return np.sum(list(accumulators), axis=0)

    def extract_output(self, accumulator) -> Dict[metric_types.MetricKey, float]:
        total, examples = accumulator
        return {self._key: total / examples if examples else float("nan")}


class _MeanHitCombiner(_MeanCombiner):
    def __init__(self, key: metric_types.MetricKey, model_name: str, k: int):
        super().__init__(key, model_name)
        self._k = k

    def value(self, predictions: Dict) -> float:
        if hit_key(self._k) not in predictions:
            raise ValueError(f"the eval signature has no output '{hit_key(self._k)}'; add "
                             f"{self._k} to TrainerConfig.eval_ks")
        return float(np.ravel(predictions[hit_key(self._k)])[0])


def _recall_at_k(k: int, name: str, model_names: Optional[List[str]] = None,
                 **_) -> metric_types.MetricComputations:
    return per_model_computations(
        name, model_names, lambda key, model_name: _MeanHitCombiner(key, model_name, k))


class RecallAtK(tfma.metrics.Metric):
    """Share of eval examples whose true item is in the model's top k."""

    def __init__(self, k: int = 10, name: Optional[str] = None):
        super().__init__(_recall_at_k, k=k, name=name or f"recall_at_{k}")


metric_types.register_metric(RecallAtK)


class _MeanOfRankCombiner(_MeanCombiner):
    """Mean of gain(rank); NaN for a model whose eval signature predates ranks."""

    def __init__(self, key: metric_types.MetricKey, model_name: str,
                 gain: Callable[[float], float]):
        super().__init__(key, model_name)
        self._gain = gain

    def value(self, predictions: Dict) -> Optional[float]:
        if RANK_KEY not in predictions:
            return None
        rank = float(np.ravel(predictions[RANK_KEY])[0])
        return self._gain(rank) if rank >= 1 else 0.0


def ndcg_gain(k: int) -> Callable[[float], float]:
    return lambda rank: 1.0 / math.log2(rank + 1.0) if rank <= k else 0.0


def reciprocal_rank(rank: float) -> float:
    return 1.0 / rank


def _mean_of_rank(gain, name: str, model_names: Optional[List[str]] = None,
                  **_) -> metric_types.MetricComputations:
    return per_model_computations(
        name, model_names, lambda key, model_name: _MeanOfRankCombiner(key, model_name, gain))


class NdcgAtK(tfma.metrics.Metric):
    """Normalised discounted cumulative gain of the true item within the model's top k."""

    def __init__(self, k: int = 10, name: Optional[str] = None):
        super().__init__(_mean_of_rank, gain=ndcg_gain(k), name=name or f"ndcg_at_{k}")


class MeanReciprocalRank(tfma.metrics.Metric):
    """Mean of 1 / (the true item's rank among all catalog items)."""

    def __init__(self, name: str = "mrr"):
        super().__init__(_mean_of_rank, gain=reciprocal_rank, name=name)


metric_types.register_metric(NdcgAtK)
metric_types.register_metric(MeanReciprocalRank)


class _CoverageCombiner(beam.CombineFn):
    """Distinct catalog positions in the examples' top-k lists / catalog size."""

    def __init__(self, key: metric_types.MetricKey, model_name: str):
        self._key, self._model_name = key, model_name

    def create_accumulator(self):
        return set(), 0

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        predictions = model_predictions(element, self._model_name)
        if TOP_ITEMS_KEY not in predictions:  # a baseline exported before coverage
            return accumulator
        items, size = accumulator
        items.update(int(i) for i in np.ravel(predictions[TOP_ITEMS_KEY]))
        return items, max(size, int(np.ravel(predictions[CATALOG_SIZE_KEY])[0]))

    def merge_accumulators(self, accumulators):
        items, size = set(), 0
        for more, more_size in accumulators:
            items |= more
            size = max(size, more_size)
        return items, size

    def extract_output(self, accumulator) -> Dict[metric_types.MetricKey, float]:
        items, size = accumulator
        return {self._key: len(items) / size if size else float("nan")}


def _coverage(name: str, model_names: Optional[List[str]] = None,
              **_) -> metric_types.MetricComputations:
    return per_model_computations(name, model_names, _CoverageCombiner)


class CatalogCoverage(tfma.metrics.Metric):
    """Share of the catalog's items in at least one eval example's served top-k list."""

    def __init__(self, name: str = "catalog_coverage"):
        super().__init__(_coverage, name=name)


metric_types.register_metric(CatalogCoverage)


def metrics_from_ranks(ranks: Sequence[float], recall_ks: Sequence[int],
                       ndcg_ks: Sequence[int]) -> Dict[str, float]:
    """The same Recall@K, NDCG@K and MRR as the TFMA metrics above, from exact ranks of the true
    items (0 = unknown item: counts as a miss), for code outside TFMA (privacy-utility curve)."""
    ranks = [float(r) for r in ranks]
    out = {f"recall_at_{k}": float(np.mean([1.0 <= r <= k for r in ranks])) for k in recall_ks}
    out.update({f"ndcg_at_{k}": float(np.mean([ndcg_gain(k)(r) if r >= 1 else 0.0
                                                for r in ranks])) for k in ndcg_ks})
    out["mrr"] = float(np.mean([reciprocal_rank(r) if r >= 1 else 0.0 for r in ranks]))
    return out


def catalog_coverage(top_items: np.ndarray, num_items: int) -> float:
    """Share of the catalog's items that appear in at least one example's top-K list."""
    return float(len(np.unique(np.asarray(top_items))) / num_items)
