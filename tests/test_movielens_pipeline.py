"""Heavy: the whole pipeline on real MovieLens 100K data, then recommendations over gRPC."""
import os

import pytest

from components.masking import policy, pseudonymizer
from pipeline import configs, local_runner, run_summary
from privrec.data import movielens
from tests import serve_once
from tests.test_movielens import ML_DIR


@pytest.mark.heavy
@pytest.mark.skipif(not os.path.exists(ML_DIR), reason="../shared/data/movielens-100k absent")
def test_movielens_pipeline_learns_and_serves(tmp_path, monkeypatch):
    config = configs.local_config(str(tmp_path), data_dir=str(tmp_path / "ml"), train_steps=400,
                                  recall_floor=0.01, masking_policy=policy.MOVIELENS_POLICY)
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
    assert summary.pushed, report
    version, _, items = serve_once.recommend_once(config.push_dir, "", ["m50", "m172", "m181"])
    assert version == int(summary.pushed_version), (version, report)
    assert len(items) == 10 and all(item.startswith("m") for item, _ in items)
