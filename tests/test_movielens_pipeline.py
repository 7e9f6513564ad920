"""Heavy: the whole pipeline on real MovieLens 100K data, then recommendations over gRPC."""
import os

import pytest

from components.masking import policy, pseudonymizer
from pipeline import configs, local_runner, run_summary
from privrec.data import movielens
from serving import client, server
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
    # Random ranking of 1,682 movies gives Recall@50 of about 0.03.
    assert summary.metrics["recall_at_50"] > 0.06, summary.metrics
    assert 0 < summary.privacy["epsilon"] < float("inf")
    model_server = server.ModelServer(config.model_name, config.push_dir, port=0)
    address, _ = model_server.start()
    try:
        _, items = client.recommend(address, "1", "", ["m50", "m172", "m181"])
    finally:
        model_server.stop()
    assert len(items) == 10 and all(item.startswith("m") for item, _ in items)
