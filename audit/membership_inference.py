"""Membership inference against a trained privrec model, with TF-Privacy's attack library.

Attack inputs come from the model's `eval` signature, per example: the true item's softmax loss
over the whole catalog and its rank. Two levels:
  example  members = the training split's examples, non-members = held-out users' examples;
  user     the unit DP-SGD should protect here: per user, the mean loss, mean log-rank, best
           loss and share of true items in the top 10 over all of that user's examples.
TF-Privacy runs the threshold attack (on the loss) and a trained logistic-regression attack (on
the features above), on all users and on two slices: heavy users (at least the median number of
examples per user, over members and non-members alike) and light users. AUC 0.5 and attacker
advantage 0 mean the attacker cannot tell members from non-members.
"""
import collections
import json
import os
import tempfile
from typing import Dict, Iterable, List

import apache_beam as beam
import numpy as np
import tensorflow as tf

from audit.mia_library import data_structures, membership_inference_attack
from components.masking import ptransform
from components.masking.executor import user_column
from components.masking.policy import MaskingPolicy
from components.masking.reidentification import SUPPRESSED, KAnonymize
from components.masking.pseudonymizer import PseudonymKey
from pipeline import configs
from privrec.data import schema
from trainer.export import LOSS_KEY
from trainer.retrieval_metrics import RANK_KEY

ATTACKS = (data_structures.AttackType.THRESHOLD_ATTACK,
           data_structures.AttackType.LOGISTIC_REGRESSION)
SLICE_NAMES = {None: "all users", 0: "light users", 1: "heavy users"}
INDEX = "__row_index"  # carried through KAnonymize to find the suppressed rows
USER_FEATURES = ("mean loss", "mean log-rank", "best loss", "share in top 10")


def read_examples(file_pattern: str) -> List[bytes]:
    files = tf.io.gfile.glob(file_pattern)
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def mask_rows(rows: List[Dict[str, str]], policy: MaskingPolicy, key: PseudonymKey,
              max_timestamp: int) -> List[bytes]:
    """Held-out users' raw rows, masked and k-anonymised by the ingestion code itself, as
    tf.Examples; only rows of the members' training period (masked timestamp <=
    max_timestamp), so both sides match."""
    mask = ptransform.make_mask_fn(policy, key)
    masked, _ = mask({c: tf.constant([r[c] for r in rows], tf.string) for c in policy.columns})
    masked = {k: v.numpy() for k, v in masked.items()}
    released = [{k: ptransform._python_value(v[i]) for k, v in masked.items()}
                for i in range(len(rows))]
    released = k_anonymous(released, policy)
    return [ptransform.to_example(row) for row in released
            if row[schema.TIMESTAMP] <= max_timestamp]


def k_anonymous(rows: List[Dict], policy: MaskingPolicy) -> List[Dict]:
    """The rows as the policy's k-anonymity step would release them: every row, the
    quasi-identifiers of classes below k_min suppressed (the pipeline applied it to the
    members; without it here, held-out users of rare classes would differ from the members by
    construction, and the attack would see that instead of memorisation)."""
    if policy.k_anonymity is None:
        return rows
    quasi_identifiers = list(policy.k_anonymity.quasi_identifiers)
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "suppressed.json")

        def save(indices):
            with open(out, "w") as f:
                json.dump(indices, f)

        with beam.Pipeline() as pipeline:
            result = (pipeline | beam.Create([{**r, INDEX: i} for i, r in enumerate(rows)])
                      | KAnonymize(policy.k_anonymity, user_column(policy)))
            (result["released"]
             | beam.Filter(lambda r: all(r[c] == SUPPRESSED for c in quasi_identifiers))
             | beam.Map(lambda r: r[INDEX]) | beam.combiners.ToList() | beam.Map(save))
        with open(out) as f:
            suppressed = set(json.load(f))
    return [{**row, **{c: SUPPRESSED for c in quasi_identifiers}} if i in suppressed else row
            for i, row in enumerate(rows)]


def _feature(example: bytes, name: str):
    feature = tf.train.Example.FromString(example).features.feature[name]
    return (feature.bytes_list.value or feature.int64_list.value or feature.float_list.value)[0]


def max_timestamp(examples: Iterable[bytes]) -> int:
    return max(int(_feature(e, schema.TIMESTAMP)) for e in examples)


def score(model_dir: str, examples: List[bytes], batch_size: int = 512,
          known_only: bool = True) -> Dict[str, np.ndarray]:
    """Per example: user pseudonym, full-catalog loss and rank of the true item (rank 0: the
    item is not in the catalog; such examples are left out when known_only)."""
    evaluate = tf.saved_model.load(model_dir).signatures[configs.EVAL_SIGNATURE]
    losses, ranks = [], []
    for start in range(0, len(examples), batch_size):
        out = evaluate(examples=tf.constant(examples[start:start + batch_size]))
        losses.append(out[LOSS_KEY].numpy().reshape(-1))
        ranks.append(out[RANK_KEY].numpy().reshape(-1))
    users = np.array([_feature(e, schema.USER_ID) for e in examples])
    loss, rank = np.concatenate(losses), np.concatenate(ranks)
    known = rank > 0 if known_only else np.ones_like(rank, dtype=bool)
    return {"user": users[known], "loss": loss[known], "rank": rank[known]}


def per_user(scores: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    rows = collections.defaultdict(list)
    for user, loss, rank in zip(scores["user"], scores["loss"], scores["rank"]):
        rows[user].append((loss, rank))
    users = sorted(rows)
    features = []
    for user in users:
        losses, ranks = np.array(rows[user]).T
        features.append([losses.mean(), np.log(ranks).mean(), losses.min(), (ranks <= 10).mean()])
    features = np.array(features)
    return {"user": np.array(users), "features": features,
            "examples": np.array([len(rows[u]) for u in users])}


def _attack(features_in, loss_in, labels_in, features_out, loss_out, labels_out) -> List[Dict]:
    np.random.seed(0)  # the trained attack's folds
    attack_input = data_structures.AttackInputData(
        logits_train=features_in, logits_test=features_out, loss_train=loss_in,
        loss_test=loss_out, labels_train=labels_in, labels_test=labels_out)
    results = membership_inference_attack.run_attacks(
        attack_input, data_structures.SlicingSpec(entire_dataset=True, by_class=True),
        attack_types=ATTACKS)
    rows = []
    for result in results.single_attack_results:
        heavy = None if result.slice_spec.feature is None else int(result.slice_spec.value)
        rows.append({"slice": SLICE_NAMES[heavy], "attack": result.attack_type.name.lower(),
                     "auc": float(result.get_auc()),
                     "advantage": float(result.get_attacker_advantage()),
                     "members": int(np.sum(labels_in == heavy) if heavy is not None
                                    else len(labels_in)),
                     "non_members": int(np.sum(labels_out == heavy) if heavy is not None
                                        else len(labels_out)),
                     "roc": _roc_points(result.roc_curve)})
    return rows


def _roc_points(roc, points: int = 50) -> Dict[str, List[float]]:
    """The attack's ROC curve, at most `points` points (the run report draws it)."""
    keep = np.unique(np.linspace(0, len(roc.fpr) - 1, min(points, len(roc.fpr))).astype(int))
    return {"fpr": [float(v) for v in np.asarray(roc.fpr)[keep]],
            "tpr": [float(v) for v in np.asarray(roc.tpr)[keep]]}


def attack(members: Dict[str, np.ndarray], non_members: Dict[str, np.ndarray]) -> Dict:
    """Example- and user-level attacks; `members`/`non_members` are `score` outputs."""
    users_in, users_out = per_user(members), per_user(non_members)
    threshold = float(np.median(np.concatenate([users_in["examples"], users_out["examples"]])))
    heavy = {u: int(n >= threshold) for side in (users_in, users_out)
             for u, n in zip(side["user"], side["examples"])}

    def example_inputs(scores):
        features = np.stack([scores["loss"], np.log(scores["rank"])], axis=1)
        return features, scores["loss"], np.array([heavy[u] for u in scores["user"]])

    def user_inputs(users):
        return users["features"], users["features"][:, 0], np.array([heavy[u] for u in
                                                                      users["user"]])
    return {
        "heavy_user_min_examples": threshold,
        "user_features": list(USER_FEATURES),
        "user": _attack(*user_inputs(users_in), *user_inputs(users_out)),
        "example": _attack(*example_inputs(members), *example_inputs(non_members)),
    }


def most_vulnerable(rows: List[Dict]) -> Dict:
    return max(rows, key=lambda r: r["auc"])
