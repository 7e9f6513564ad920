"""Retrieval quality: most-popular, the TFRS tutorial two-tower, privrec without DP and privrec
with user-level DP at several ε, side by side in one run, on one split.

Split: per user, the last `--test-share` (20 %) of their interactions by time are the test set.
Every test example is ranked against the whole catalog (seen items not masked) and
trainer/retrieval_metrics turns the ranks into the Evaluator's Recall@K / NDCG@K, plus the
cold-start slice (test items with no training interaction) and catalog coverage of the top 10.

- most-popular: items by training count.
- TFRS tutorial: user-id and title embeddings (32), in-batch softmax (tfrs.tasks.Retrieval),
  Adagrad 0.1, batch 8192, 3 epochs, as in TFRS's basic retrieval tutorial.
- privrec: trainer/model.py (MiniLM query and titles, recent items, catalog negatives), non-DP
  with plain mini-batch steps; DP built and trained exactly as the Trainer does
  (trainer/training.py: users sampled at a rate from a DP count of them, noise calibrated to
  each ε at δ = --delta, the count's ε inside it). With --popularity-prior-noise, each ε also
  "+ prior": the DP popularity prior in the logits, its ε inside the same target. With
  --without-item-ids, each ε also ", no item ids": items are their public title vector and
  category alone (TrainerConfig.item_id_embeddings = False), far fewer values noised.
With MiniLM frozen (the default) every privrec model trains on query vectors computed once per
distinct query (trainer/query_vectors.py), as the Trainer does. "DP/non-DP step" is a DP step's
median time over a non-DP step's on as many examples, both measured the same way, interleaved;
"noise/clip" is the norm of a DP step's noise over the clip norm (privacy.noise_norm_over_clip:
far above 1, each step's direction is mostly noise).

    .venv/bin/python bench/retrieval_quality.py --json out/retrieval_quality.json
"""
import argparse
import collections
import csv
import dataclasses
import glob
import itertools
import json
import math
import os
import re
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import privrec  # noqa: E402,F401  (runtime switches, before TensorFlow)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_recommenders as tfrs  # noqa: E402

from bench import report  # noqa: E402
from pipeline import configs  # noqa: E402
from privrec.data import movielens, schema  # noqa: E402
from privrec.privacy import user_sampling  # noqa: E402
from trainer import catalog as catalog_lib, features, query_vectors, training  # noqa: E402
from trainer.model import TwoTowerModel  # noqa: E402
from trainer.text_encoder import TextEncoder  # noqa: E402
from trainer.retrieval_metrics import catalog_coverage, metrics_from_ranks  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ML = os.path.join(ROOT, "..", "shared", "data", "movielens-100k")
RECALL_KS, NDCG_KS = (10, 100), (10,)
MODELS = ("most-popular", "tutorial", "non-dp", "dp")
PRIOR_ROW, NO_IDS_ROW = " + prior", ", no item ids"  # the DP rows' variants
DP_ROW = re.compile(r"privrec DP ε=[0-9.]+(.*)$")  # a DP row's name -> its variant
TARGETS = {"non_dp_vs_tutorial_recall_at_100": 2.2, "dp_eps8_vs_non_dp": 0.85,
           "dp_eps1_vs_most_popular": 1.2, "dp_step_vs_non_dp_step": 1.5}
# On MovieLens 1M (6,038 real users): its own targets, and ε = 1 must also spread the
# recommendations (coverage@10 >= 10× most-popular's).
MOVIELENS_1M_TARGETS = {"non_dp_vs_tutorial_recall_at_100": 2.2, "dp_eps8_vs_non_dp": 0.6,
                        "dp_eps1_vs_most_popular": 1.3, "dp_step_vs_non_dp_step": 2.0,
                        "dp_eps1_coverage_vs_most_popular": 10.0}


def progress(message: str, _started=[time.perf_counter()]) -> None:
    """A timestamped line on stderr as each stage ends (the table comes at the end)."""
    print(f"[{time.perf_counter() - _started[0]:7.0f} s] {message}", file=sys.stderr, flush=True)


# Data --------------------------------------------------------------------------------------

def load(dataset: str):
    """(catalog, interactions sorted by time) from a MovieLens folder (100K, 1M or CSV layout,
    told apart by privrec.data.movielens.load_any) or a privrec data folder (catalog.csv +
    interactions/*.csv, e.g. `privrec generate`)."""
    if os.path.exists(os.path.join(dataset, schema.CATALOG_FILE)):
        data = {"catalog": _csv_rows(os.path.join(dataset, schema.CATALOG_FILE)),
                "interactions": sorted(
                    (row for path in sorted(glob.glob(os.path.join(
                        dataset, schema.INTERACTIONS_DIR, "*.csv"))) for row in _csv_rows(path)),
                    key=lambda row: int(row["timestamp"]))}
    else:
        data = movielens.load_any(dataset)
    rows = data["catalog"]
    catalog = catalog_lib.Catalog([r["item_id"] for r in rows], [r["title"] for r in rows],
                                  [r["category"] for r in rows])
    return catalog, data["interactions"]


def _csv_rows(path: str) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def split_per_user(rows: Sequence[Dict], test_share: float):
    """Each user's last `test_share` of interactions by time (at least one, if they have two)."""
    by_user = collections.defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    train, test = [], []
    for user_rows in by_user.values():
        n_test = min(len(user_rows) - 1, max(1, round(test_share * len(user_rows))))
        train += user_rows[:len(user_rows) - n_test]
        test += user_rows[len(user_rows) - n_test:]
    return train, test


def featurize(rows: Sequence[Dict], catalog_path: str, config: Dict,
              chunk: int = 16_384) -> Dict:
    """The Transform's features for `rows`, computed by the product's own `preprocessing_fn`
    (trainer/features.py: query scrubbed and tokenized, history and label indexed by the
    catalog) over the raw columns, in chunks. It runs no tft analyzer, so calling it on
    in-memory tensors gives what the Transform component writes for the same rows."""
    custom_config = {**config, "catalog_path": catalog_path}
    columns = (schema.QUERY, schema.RECENT_ITEM_IDS, schema.ITEM_ID, schema.USER_ID)
    parts = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        inputs = {c: tf.constant([[row[c]] for row in part]) for c in columns}
        parts.append({k: v.numpy() for k, v in
                      features.preprocessing_fn(inputs, custom_config).items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def write_catalog(catalog: catalog_lib.Catalog, directory: str) -> str:
    """The catalog as the pipeline reads it (catalog.csv: item_id, title, category)."""
    path = os.path.join(directory, schema.CATALOG_FILE)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["item_id", "title", "category"])
        writer.writerows(zip(catalog.item_ids, catalog.titles, catalog.categories))
    return path


# Scoring -----------------------------------------------------------------------------------

def ranks_and_top10(scores_fn, labels: np.ndarray, batch: int = 1024):
    """Rank of each true item among all catalog items (1 = first) and each example's top 10."""
    ranks, top = [], []
    for start in range(0, len(labels), batch):
        scores = np.asarray(scores_fn(start, start + batch))  # [batch, items] in catalog order
        true = labels[start:start + batch] - catalog_lib.FIRST_ITEM_INDEX
        true_score = scores[np.arange(len(true)), true]
        ranks.append(1 + np.sum(scores > true_score[:, None], axis=1))
        top.append(np.argsort(-scores, axis=1)[:, :10])
    return np.concatenate(ranks), np.concatenate(top)


def evaluate(ranks: np.ndarray, top10: np.ndarray, cold: np.ndarray, num_items: int) -> Dict:
    metrics = metrics_from_ranks(ranks, RECALL_KS, NDCG_KS)
    metrics["cold_start_recall_at_100"] = (
        metrics_from_ranks(ranks[cold], (100,), ())["recall_at_100"] if cold.any() else math.nan)
    metrics["coverage_at_10"] = catalog_coverage(top10, num_items)
    return metrics


# Models ------------------------------------------------------------------------------------

def most_popular(train_labels: np.ndarray, test_labels: np.ndarray, num_indices: int):
    counts = np.bincount(train_labels, minlength=num_indices)[catalog_lib.FIRST_ITEM_INDEX:]
    scores = counts.astype(np.float64) - np.arange(len(counts)) * 1e-9  # ties: catalog order
    return ranks_and_top10(lambda a, b: np.tile(scores, (len(test_labels[a:b]), 1)), test_labels)


class TutorialModel(tfrs.Model):
    """TFRS basic retrieval tutorial: user-id and title embeddings, in-batch softmax."""

    def __init__(self, user_ids: List[str], titles: List[str]):
        super().__init__()
        self.user_model = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
            tf.keras.layers.Embedding(len(user_ids) + 1, 32)])
        self.movie_model = tf.keras.Sequential([
            tf.keras.layers.StringLookup(vocabulary=titles, mask_token=None),
            tf.keras.layers.Embedding(len(titles) + 1, 32)])
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, inputs, training=False):
        return self.task(self.user_model(inputs["user_id"]), self.movie_model(inputs["title"]))


def tfrs_tutorial(train: Sequence[Dict], test: Sequence[Dict], catalog, labels, epochs: int):
    title_of = dict(zip(catalog.item_ids, catalog.titles))
    users = sorted({r["user_id"] for r in train} | {r["user_id"] for r in test})
    model = TutorialModel(users, sorted(set(catalog.titles)))
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
    data = tf.data.Dataset.from_tensor_slices({
        "user_id": [r["user_id"] for r in train],
        "title": [title_of[r["item_id"]] for r in train]}).shuffle(100_000, seed=42)
    started = time.perf_counter()
    model.fit(data.batch(8192), epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    items = model.movie_model(tf.constant(catalog.titles)).numpy()
    queries = model.user_model(tf.constant([r["user_id"] for r in test])).numpy()
    ranks, top = ranks_and_top10(lambda a, b: queries[a:b] @ items.T, labels)
    return ranks, top, seconds


def privrec_model(catalog, config: Dict) -> TwoTowerModel:
    return training.new_model(config, catalog)


def privrec_scores(model: TwoTowerModel, test_features: Dict, num_indices: int):
    candidates = model.scoring_candidates(
        tf.range(catalog_lib.FIRST_ITEM_INDEX, num_indices, dtype=tf.int64))

    def scores(a, b):
        query = model.scoring_query({k: tf.constant(v[a:b]) for k, v in test_features.items()
                                     if k in (features.QUERY_TOKENS, features.HISTORY,
                                              query_vectors.QUERY_VECTOR)})
        return tf.matmul(query, candidates, transpose_b=True).numpy()
    return scores


def _model_inputs(feats: Dict) -> Dict:
    return {k: v for k, v in feats.items() if k != features.USER_KEY}


def with_query_vectors(feats: Dict, encoder: Optional[TextEncoder]) -> Dict:
    """Examples as every privrec model (non-DP and DP alike) trains and is scored on them: with
    MiniLM frozen (an `encoder`), each distinct query's vector computed once beforehand, as the
    Trainer does (trainer/query_vectors.py); with trained text layers (None), the tokens."""
    return query_vectors.precompute(feats, encoder) if encoder else feats


def batches(inputs: Dict, batch_size: int, shuffle: bool) -> tf.data.Dataset:
    """Endless mini-batches of the model's inputs; precomputed query vectors are gathered from
    their table per batch (the [examples, 384] array is never built)."""
    inputs = _model_inputs(inputs)
    vectors = inputs.pop(query_vectors.QUERY_VECTOR, None)
    if vectors is not None:
        inputs["query_row"] = vectors.index
    data = tf.data.Dataset.from_tensor_slices(inputs)
    if shuffle:
        data = data.shuffle(100_000, seed=7)
    data = data.repeat().batch(batch_size, drop_remainder=True)
    if vectors is None:
        return data
    table = tf.constant(vectors.table)

    def gather_vectors(batch):
        batch = dict(batch)
        batch[query_vectors.QUERY_VECTOR] = tf.gather(table, batch.pop("query_row"))
        return batch
    return data.map(gather_vectors)


def non_dp_step(model: TwoTowerModel, learning_rate: float):
    """One plain mini-batch Adam step on the mean loss, as a tf.function of a batch."""
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True)
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model.per_example_loss(batch, model.sample_negatives()))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
        return loss
    return step


def train_non_dp(catalog, config: Dict, inputs: Dict, epochs: float, batch_size: int):
    """Plain mini-batch Adam on the mean loss; returns (model, seconds)."""
    model = privrec_model(catalog, config)
    step = non_dp_step(model, config["learning_rate"])
    steps = math.ceil(epochs * len(inputs[features.LABEL]) / batch_size)
    data = iter(batches(inputs, batch_size, shuffle=True))
    started = time.perf_counter()
    for done in range(1, steps + 1):
        step(next(data)).numpy()
        if done % 500 == 0:
            progress(f"privrec non-DP: step {done}/{steps}")
    return model, time.perf_counter() - started


class _Progress(tf.keras.callbacks.Callback):
    def __init__(self, name: str, steps: int):
        super().__init__()
        self.name, self.steps = name, steps

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % 50 == 0:
            progress(f"{self.name}: step {batch + 1}/{self.steps}")


def dp_training(catalog, config: Dict, sampler: user_sampling.UserSampler,
                steps: int) -> training.Training:
    """The model and its DP training exactly as the Trainer builds them (trainer/training.py):
    the noise from config (calibrated to config["target_epsilon"] when set, with the DP count
    of users), the DP popularity prior with config["popularity_prior_noise"]."""
    return training.build(config, catalog, sampler, training.dp_settings(config, sampler, steps))


def train_dp(catalog, config: Dict, sampler: user_sampling.UserSampler, steps: int, name: str):
    built = dp_training(catalog, config, sampler, steps)
    started = time.perf_counter()
    built.trainer.fit(sampler.dataset(), steps_per_epoch=steps, epochs=1, verbose=0,
                      callbacks=[_Progress(name, steps)])
    return built, time.perf_counter() - started


def step_seconds(steps: Dict[str, tuple], rounds: int, warmup: int = 3) -> Dict[str, list]:
    """Seconds of each step of each (step function, batch iterator), measured the same way and
    interleaved round by round (so load on the machine hits each alike), after `warmup` rounds
    (tracing): `rounds` times per step function."""
    times = {name: [] for name in steps}
    for _ in range(warmup + rounds):
        for name, (step, batches_of) in steps.items():
            batch = next(batches_of)
            started = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), step(batch))  # waits for the result
            times[name].append(time.perf_counter() - started)
    return {name: t[warmup:] for name, t in times.items()}


def step_cost(times: Dict[str, list]) -> Dict[str, float]:
    """Median DP and non-DP step seconds, their ratio, and the quartiles of the per-round ratios
    (each DP step over the non-DP step timed beside it): how far the ratio moves with load."""
    dp, non_dp = np.asarray(times["dp"]), np.asarray(times["non_dp"])
    low, high = np.percentile(dp / non_dp, [25, 75])
    return {"non_dp": float(np.median(non_dp)), "dp": float(np.median(dp)),
            "ratio": float(np.median(dp) / np.median(non_dp)),
            "paired_ratio_quartiles": [float(low), float(high)], "rounds": len(dp)}


# Main --------------------------------------------------------------------------------------

def run(args) -> Dict:
    catalog, rows = load(args.dataset)
    train, test = split_per_user(rows, args.test_share)
    config = {**configs.trainer_custom_config(configs.local_config(".", data_dir=".")),
              "learning_rate": args.learning_rate,
              "text_trainable_layers": args.text_trainable_layers,
              **({"negatives_per_step": args.negatives_per_step}
                 if args.negatives_per_step else {})}
    with tempfile.TemporaryDirectory() as directory:
        catalog_path = write_catalog(catalog, directory)
        train_features = featurize(train, catalog_path, config)
        test_features = featurize(test, catalog_path, config)
    frozen_encoder = None if args.text_trainable_layers else TextEncoder()
    inputs = with_query_vectors(train_features, frozen_encoder)
    test_inputs = with_query_vectors(test_features, frozen_encoder)
    labels = test_features[features.LABEL]
    cold = np.bincount(train_features[features.LABEL],
                       minlength=catalog.num_indices)[labels] == 0
    items = len(catalog.item_ids)
    print(f"{args.dataset}: {len(rows)} interactions, {len(set(train_features[features.USER_KEY]))}"
          f" users, {items} items; test {len(test)} (last {args.test_share:.0%} per user; "
          f"{int(cold.sum())} cold-start)")
    results = collections.OrderedDict()
    progress(f"data ready: {len(train)} train / {len(test)} test examples")

    def record(name: str, ranks, top, **extra) -> None:
        results[name] = {**evaluate(ranks, top, cold, items), **extra}
        progress(f"{name}: R@100 {results[name]['recall_at_100']:.3f}, "
                 f"trained in {extra['train_seconds']:.0f} s")

    if "most-popular" in args.models:
        ranks, top = most_popular(train_features[features.LABEL], labels, catalog.num_indices)
        record("most-popular", ranks, top, train_seconds=0.0)
    if "tutorial" in args.models:
        ranks, top, seconds = tfrs_tutorial(train, test, catalog, labels, args.tutorial_epochs)
        record("TFRS tutorial", ranks, top, train_seconds=seconds)
    if "non-dp" in args.models:
        tf.random.set_seed(7)
        model, seconds = train_non_dp(catalog, config, inputs, args.epochs, args.batch_size)
        ranks, top = ranks_and_top10(privrec_scores(model, test_inputs, catalog.num_indices),
                                     labels)
        record("privrec non-DP", ranks, top, train_seconds=seconds)

    # The Trainer's sampler: users Poisson-sampled at a rate from a DP count of them.
    config.update(users_per_step=args.users_per_step, delta=args.delta,
                  max_examples_per_user=args.max_examples_per_user)
    sampler = training.user_sampler(inputs, config)
    steps = math.ceil(args.dp_epochs / sampler.sampling_rate)
    # The cost of DP: a non-DP step on as many examples as a DP step holds on average.
    examples_per_dp_step = int(np.mean([
        min(len(rows_of), args.max_examples_per_user) for rows_of in sampler.rows_of_user])
        * sampler.expected_users_per_step)
    seconds_per_step = {"non_dp": None, "dp": None}  # measured only when DP models run
    # The model timed: the default one, or --time-variant's (both steps on that model).
    timed = {**config, **dict(args.variant).get(args.time_variant, {})}
    if "dp" in args.models:  # on throw-away models: the step's cost does not depend on σ
        seconds_per_step = step_cost(step_seconds({
            "non_dp": (non_dp_step(privrec_model(catalog, timed), config["learning_rate"]),
                       iter(batches(inputs, examples_per_dp_step, shuffle=False))),
            "dp": (tf.function(dp_training(catalog, {**timed, "noise_multiplier": 1.0},
                                           sampler, steps).trainer.train_step,
                               reduce_retracing=True), iter(sampler.dataset()))},
            args.step_rounds))
        progress(f"step on {examples_per_dp_step} examples: non-DP "
                 f"{seconds_per_step['non_dp']:.3f} s, DP {seconds_per_step['dp']:.3f} s "
                 f"(medians of {args.step_rounds} interleaved rounds)")
    # Each ε as configured and, as asked: with the DP popularity prior (its ε is part of the
    # target: DP-SGD gets what the prior leaves); without item-id embeddings (items are their
    # public features, trainer/title_lookup.py).
    variants = [] if args.variants_only else [("", {})]
    if args.popularity_prior_noise:
        variants.append((PRIOR_ROW, {"popularity_prior_noise": args.popularity_prior_noise}))
    if args.without_item_ids:
        variants.append((NO_IDS_ROW, {"item_id_embeddings": False}))
    variants += [(f", {name}", change) for name, change in args.variant]
    timed_row = f", {args.time_variant}" if args.time_variant else ""
    for epsilon, (suffix, change) in itertools.product(
            args.epsilons if "dp" in args.models else (), variants):
        name = f"privrec DP ε={epsilon:g}{suffix}"
        tf.random.set_seed(7)
        built, seconds = train_dp(
            catalog, {**config, "popularity_prior_noise": None, **change,
                      "target_epsilon": epsilon,
                      "learning_rate": args.dp_learning_rate or config["learning_rate"]},
            sampler, steps, name)
        accounted = built.settings.account(sampler.num_examples)
        ranks, top = ranks_and_top10(privrec_scores(built.model, test_inputs,
                                                    catalog.num_indices), labels)
        record(name, ranks, top, train_seconds=seconds, epsilon=accounted.epsilon,
               noise_multiplier=accounted.noise_multiplier,
               noise_norm_over_clip=built.noise_norm_over_clip,
               **({"dp_step_vs_non_dp_step": seconds_per_step["ratio"]}
                  if suffix == timed_row else {}))  # the rows of the model timed
    return {"dataset": os.path.abspath(args.dataset), "interactions": len(rows),
            "users": sampler.num_users, "items": items, "test_examples": len(test),
            "cold_start_examples": int(cold.sum()), "dp": {
                "users_per_step": sampler.expected_users_per_step,
                "max_examples_per_user": args.max_examples_per_user, "steps": steps,
                "delta": args.delta, "examples_per_step": examples_per_dp_step,
                "non_dp_step_seconds": seconds_per_step["non_dp"],
                "dp_step_seconds": seconds_per_step["dp"],
                "step_ratio_quartiles": seconds_per_step.get("paired_ratio_quartiles"),
                "step_rounds": seconds_per_step.get("rounds"),
                "learning_rate": args.dp_learning_rate or args.learning_rate},
            "text_trainable_layers": args.text_trainable_layers,
            "negatives_per_step": config["negatives_per_step"],
            "popularity_prior_noise": args.popularity_prior_noise,
            "without_item_ids": args.without_item_ids,
            "variants": {name: change for name, change in args.variant},
            "timed_variant": args.time_variant, "results": results}


def print_table(numbers: Dict) -> None:
    print(f"{'model':<30}{'R@10':>8}{'NDCG@10':>9}{'R@100':>8}{'cold R@100':>11}"
          f"{'cov@10':>8}{'train s':>9}{'DP/non-DP step':>16}{'noise/clip':>12}")
    for name, m in numbers["results"].items():
        ratio, noise = m.get("dp_step_vs_non_dp_step"), m.get("noise_norm_over_clip")
        print(f"{name:<30}{m['recall_at_10']:>8.3f}{m['ndcg_at_10']:>9.3f}"
              f"{m['recall_at_100']:>8.3f}{m['cold_start_recall_at_100']:>11.3f}"
              f"{m['coverage_at_10']:>8.3f}{m['train_seconds']:>9.1f}"
              f"{(f'{ratio:.2f}×' if ratio else '-'):>16}"
              f"{(f'{noise:.2f}' if noise is not None else '-'):>12}")
    dp = numbers["dp"]
    if dp.get("step_ratio_quartiles"):
        low, high = dp["step_ratio_quartiles"]
        print(f"step on {dp['examples_per_step']} examples: non-DP {dp['non_dp_step_seconds']:.3f}"
              f" s, DP {dp['dp_step_seconds']:.3f} s (medians of {dp['step_rounds']} interleaved "
              f"rounds); DP/non-DP per round: quartiles {low:.2f}× – {high:.2f}×")
    print(f"user-level DP: {numbers['users']} users, {dp['users_per_step']:.0f} per step "
          f"(Poisson), at most {dp['max_examples_per_user']} examples each, {dp['steps']} steps,"
          f" δ = {dp['delta']:g}, Adam learning rate {dp['learning_rate']:g}, "
          f"{numbers['negatives_per_step']} catalog negatives per step")


def targets(numbers: Dict) -> Dict[str, bool]:
    """Each target whose models ran (--models), met or not."""
    r, out = numbers["results"], {}
    movielens_1m = os.path.exists(os.path.join(numbers.get("dataset", ""), "ratings.dat"))
    goal = MOVIELENS_1M_TARGETS if movielens_1m else TARGETS
    non_dp = r.get("privrec non-DP", {}).get("recall_at_100")
    if non_dp is not None and "TFRS tutorial" in r:
        out[f"privrec non-DP R@100 >= {goal['non_dp_vs_tutorial_recall_at_100']}× TFRS "
            "tutorial"] = non_dp >= goal["non_dp_vs_tutorial_recall_at_100"] \
            * r["TFRS tutorial"]["recall_at_100"]
    # Each DP row's variant: "", " + prior", ", no item ids", ", NAME" (--variant).
    variants = sorted({match.group(1) for match in map(DP_ROW.match, r) if match})
    for variant in variants:
        if non_dp is not None and f"privrec DP ε=8{variant}" in r:
            out[f"DP ε=8{variant} R@100 >= {goal['dp_eps8_vs_non_dp']}× non-DP"] = \
                r[f"privrec DP ε=8{variant}"]["recall_at_100"] >= goal["dp_eps8_vs_non_dp"] \
                * non_dp
        if "most-popular" in r and f"privrec DP ε=1{variant}" in r:
            out[f"DP ε=1{variant} R@100 >= {goal['dp_eps1_vs_most_popular']}× most-popular"] = \
                r[f"privrec DP ε=1{variant}"]["recall_at_100"] \
                >= goal["dp_eps1_vs_most_popular"] * r["most-popular"]["recall_at_100"]
            if "dp_eps1_coverage_vs_most_popular" in goal:
                out[f"DP ε=1{variant} coverage@10 >= "
                    f"{goal['dp_eps1_coverage_vs_most_popular']:g}× most-popular"] = \
                    r[f"privrec DP ε=1{variant}"]["coverage_at_10"] \
                    >= goal["dp_eps1_coverage_vs_most_popular"] \
                    * r["most-popular"]["coverage_at_10"]
    ratios = [m["dp_step_vs_non_dp_step"] for m in r.values() if "dp_step_vs_non_dp_step" in m]
    if ratios:
        out[f"DP step <= {goal['dp_step_vs_non_dp_step']}× non-DP step"] = \
            max(ratios) <= goal["dp_step_vs_non_dp_step"]
    return out


def _variant(text: str) -> Tuple[str, Dict]:
    """'NAME:FIELD=VALUE,...' -> (NAME, {FIELD: JSON VALUE}) of TrainerConfig fields."""
    name, _, settings = text.partition(":")
    fields = {field.name for field in dataclasses.fields(configs.TrainerConfig)}
    change = {}
    for setting in filter(None, settings.split(",")):
        field, _, value = setting.partition("=")
        if field.strip() not in fields or not value:
            raise argparse.ArgumentTypeError(
                f"{setting!r} is not FIELD=VALUE with a TrainerConfig field (pipeline/configs.py)")
        try:
            change[field.strip()] = json.loads(value)
        except json.JSONDecodeError:
            raise argparse.ArgumentTypeError(f"{setting!r}: the value is not JSON (10, 0.5, "
                                             "false, null)") from None
    if not name.strip() or not change:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME:FIELD=VALUE,...")
    return name.strip(), change


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default=DEFAULT_ML,
                        help="a MovieLens folder: 100K layout (u.data, u.item, u.user), 1M "
                             "layout (ratings.dat, movies.dat, users.dat, e.g. "
                             "../shared/data/movielens-1m-positives) or CSV layout (ratings.csv, "
                             "movies.csv, optional tags.csv); or a privrec data folder "
                             "(catalog.csv, interactions/*.csv)")
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--epochs", type=float, default=5, help="privrec non-DP")
    parser.add_argument("--batch-size", type=int, default=256, help="privrec non-DP")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--dp-learning-rate", type=float,
                        help="Adam's learning rate for the DP models (default: --learning-rate)")
    parser.add_argument("--tutorial-epochs", type=int, default=3)
    parser.add_argument("--epsilons", default="1,3,8")
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--dp-epochs", type=float, default=10,
                        help="times each user is sampled on average")
    parser.add_argument("--users-per-step", type=float, default=64)
    parser.add_argument("--max-examples-per-user", type=int, default=32)
    parser.add_argument("--negatives-per-step", type=int,
                        help="catalog negatives shared by a step's examples, every privrec "
                             "model (default: TrainerConfig's); large user batches need more: "
                             "each item is a negative about once per catalog/negatives steps")
    parser.add_argument("--popularity-prior-noise", type=float, metavar="SIGMA",
                        help="also train each DP model with a DP popularity prior released "
                             "at this noise multiplier (rows '+ prior')")
    parser.add_argument("--without-item-ids", action="store_true",
                        help="also train each DP model without item-id embeddings (items are "
                             "their public title vector and category; rows ', no item ids')")
    parser.add_argument("--variant", action="append", default=[], type=_variant,
                        metavar="NAME:FIELD=VALUE,...",
                        help="also train each DP model with these TrainerConfig fields "
                             "(values in JSON; rows ', NAME'), e.g. 'prior + rare-first:"
                             "popularity_prior_noise=10,rare_item_exponent=0.5'; repeatable")
    parser.add_argument("--variants-only", action="store_true",
                        help="DP rows for the --variant models only, not the default model")
    parser.add_argument("--time-variant", metavar="NAME",
                        help="time the DP and the non-DP step on this --variant's model "
                             "(default: the default model)")
    parser.add_argument("--text-trainable-layers", type=int, default=0,
                        help="privrec: train MiniLM's top N query-encoder layers (default 0)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"which of {', '.join(MODELS)} to run (comma-separated)")
    parser.add_argument("--step-rounds", type=int, default=200,
                        help="interleaved rounds timing the DP and the non-DP step")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    args.epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    if args.time_variant and args.time_variant not in dict(args.variant):
        parser.error(f"--time-variant {args.time_variant!r}: no --variant of that name")
    if args.variants_only and not args.variant:
        parser.error("--variants-only: give the DP models with --variant NAME:FIELD=VALUE,...")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown or not args.models:
        parser.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from "
                     f"{', '.join(MODELS)}")
    numbers = run(args)
    print_table(numbers)
    report.print_targets(targets(numbers))
    report.write_json(args.json, numbers)
    return numbers


if __name__ == "__main__":
    main()
