"""Heavy: the whole pipeline on real MovieLens 100K data, then recommendations over gRPC."""
import os

import numpy as np
import pytest
import tensorflow as tf

from components.masking import policy, pseudonymizer
from components.model_card import card
from pipeline import configs, local_runner, run_summary
from privrec.data import movielens
from tests.support import serve_once
from tests.data.test_movielens import ML_DIR
from privrec import privacy
from trainer import export


@pytest.mark.heavy
@pytest.mark.skipif(not os.path.exists(ML_DIR), reason="../shared/data/movielens-100k absent")
def test_movielens_pipeline_learns_and_serves(tmp_path, monkeypatch):
    """With the DP popularity prior, as suits a shop of ~1,000 users (README "Retrieval
    quality"), and item-id rows for the items its DP counts find frequent, through to the
    served SavedModel."""
    config = configs.local_config(str(tmp_path), data_dir=str(tmp_path / "ml"), train_steps=400,
                                  recall_floor=0.01, masking_policy=policy.MOVIELENS_POLICY,
                                  trainer=configs.TrainerConfig(popularity_prior_noise=5.0,
                                                                item_id_min_count=10.0),
                                  **configs.policy_preset(policy.MOVIELENS_POLICY))
    movielens.write_dataset(ML_DIR, config.data_dir)
    monkeypatch.setenv(pseudonymizer.KEY_ENV, pseudonymizer.new_key_hex())
    local_runner.run(config, printer=lambda line: None)
    summary = run_summary.read(config)
    report = "\n".join(summary.lines())  # every assertion says what the run did
    # Random ranking of 1,682 movies gives Recall@50 of about 0.03.
    assert summary.metrics["recall_at_50"] > 0.06, report
    # Movies first rated in the eval period (there are ~120): the Evaluator's cold-start slice.
    assert 0 <= summary.metrics["cold_start_recall_at_100"] <= 1, report
    assert 0 < summary.metrics["catalog_coverage"] <= 1, report
    assert 0 < summary.privacy["epsilon"] < float("inf"), report
    # ε composes the prior's release with the DP-SGD steps: more than the steps alone.
    assert summary.privacy["popularity_noise_multiplier"] == 5.0, report
    assert "popularity prior released at noise multiplier 5" in report
    kept = summary.privacy["prior_uses"]["items_with_own_id_rows"]
    assert 0 < kept < 1682 and f"own item-id rows for {kept} items" in report, report
    sgd_alone = {k: v for k, v in summary.privacy["runs"][-1].items()
                 if k != "popularity_noise_multiplier"}
    assert summary.privacy["epsilon"] > privacy.composed_epsilon(
        [sgd_alone], summary.privacy["delta"]), report
    pushed = os.path.join(config.push_dir, summary.pushed_version)
    assert card.read(pushed)["differential_privacy"]["popularity_noise_multiplier"] == 5.0
    model = export.load_keras(pushed)
    prior = model.item_log_popularity.numpy()[2:]
    own_rows = model.candidate_tower.item_embedding.id_rows.numpy()[2:] >= 2
    assert own_rows.sum() == kept and prior[own_rows].min() >= np.log1p(10.0), report
    assert prior.max() > 1 and tf.math.reduce_std(prior) > 0.3, report  # popular films stand out
    assert summary.pushed, report
    version, _, items = serve_once.recommend_once(config.push_dir, "", ["m50", "m172", "m181"])
    assert version == int(summary.pushed_version), (version, report)
    assert len(items) == 10 and all(item.startswith("m") for item, _ in items)
