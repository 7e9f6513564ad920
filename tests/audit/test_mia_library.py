"""audit/mia_library.py: TF-Privacy's vendored membership inference library, importable under
its own name, unmodified, and attacking as its definition says."""
import hashlib
import os

import numpy as np
import pytest
from sklearn import metrics

from audit import mia_library

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_library_resolves_to_the_vendored_files_under_its_real_name():
    import tensorflow_privacy.privacy as tf_privacy
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (
        membership_inference_attack)
    assert mia_library.VENDORED == os.path.join(REPO, "third_party", "tf_privacy_tests")
    assert tf_privacy.__path__.count(mia_library.VENDORED) == 1
    assert membership_inference_attack is mia_library.membership_inference_attack
    assert os.path.abspath(membership_inference_attack.__file__).startswith(
        mia_library.VENDORED + os.sep)


def test_the_vendored_files_are_the_ones_listed_in_sha256sums():
    with open(os.path.join(mia_library.VENDORED, "SHA256SUMS"), encoding="utf-8") as f:
        listed = dict(reversed(line.split()) for line in f if line.strip())
    shipped = {os.path.relpath(os.path.join(folder, name), mia_library.VENDORED)
               for folder, _, names in os.walk(os.path.join(mia_library.VENDORED, "privacy_tests"))
               for name in names if name.endswith(".py")}
    assert shipped == set(listed)
    for path, digest in listed.items():
        with open(os.path.join(mia_library.VENDORED, path), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, path


def _threshold_auc(loss_train, loss_test):
    data = mia_library.data_structures
    results = mia_library.membership_inference_attack.run_attacks(
        data.AttackInputData(loss_train=loss_train, loss_test=loss_test),
        data.SlicingSpec(entire_dataset=True),
        attack_types=[data.AttackType.THRESHOLD_ATTACK])
    (result,) = results.single_attack_results
    return result.get_auc()


def test_the_threshold_attack_is_the_roc_auc_of_the_negated_loss():
    rng = np.random.default_rng(0)
    members, others = rng.exponential(0.5, 300), rng.exponential(1.0, 200)
    expected = metrics.roc_auc_score(np.r_[np.ones(300), np.zeros(200)],
                                     -np.r_[members, others])
    assert _threshold_auc(members, others) == pytest.approx(expected, abs=1e-9)
    assert expected > 0.6
    same = rng.exponential(1.0, 400)
    assert _threshold_auc(same[:200], same[200:]) == pytest.approx(0.5, abs=0.08)
