"""TrainerConfig.text_trainable_layers: MiniLM's top layers of the query encoder trained under
user-level DP, everything below them (and the catalog's title vectors) left as pretrained."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from serving import model_store
from tests.support import synthetic_two_tower as synthetic
from privrec import privacy
from privrec.privacy import user_sampling
from trainer import export, features, minilm

from tests.support.paths import ROOT


def _dp_steps(model, steps=3):
    trainer = synthetic.dp_trainer(model, privacy.UserLevelDP(1.0, 0.5,
                                                              expected_users_per_step=3.0))
    trainer.compile(optimizer=privacy.make_optimizer({"learning_rate": 1e-2}))
    sampler = user_sampling.UserSampler(synthetic.examples([5, 2, 8, 4]), users_per_step=3,
                                        max_examples_per_user=4)
    trainer.fit(sampler.dataset(), steps_per_epoch=steps, epochs=1, verbose=0)


def test_dp_training_moves_only_the_top_text_layers_and_the_towers(tmp_path):
    model = synthetic.model(text_trainable_layers=2)
    encoder = model.query_tower.text_encoder
    top = {id(v) for layer in encoder.top for v in layer.weights}
    assert [layer.name for layer in encoder.top] == ["transformer_layer_4", "transformer_layer_5"]
    frozen = [v for v in encoder.backbone.weights if id(v) not in top]
    before = {id(v): v.numpy().copy() for v in encoder.backbone.weights}
    titles_before = model.candidate_tower.item_title_vectors.numpy().copy()
    _dp_steps(model)
    for v in frozen:  # word embeddings and layers 0-3: as pretrained
        np.testing.assert_array_equal(v.numpy(), before[id(v)], err_msg=v.name)
    moved = [v.name for v in encoder.backbone.weights
             if id(v) in top and not np.array_equal(v.numpy(), before[id(v)])]
    assert moved and all("transformer_layer_4" in n or "transformer_layer_5" in n for n in moved)
    np.testing.assert_array_equal(model.candidate_tower.item_title_vectors.numpy(), titles_before)

    # The saved Keras model keeps the trained layers (privrec finetune continues from it).
    directory = str(tmp_path / "version")
    export.save_keras(model, directory)
    loaded = export.load_keras(directory)
    assert loaded.query_tower.text_encoder.trainable_layers == 2
    queries = {name: tf.constant(values[:6]) for name, values in synthetic.examples([6]).items()
               if name in (features.QUERY_TOKENS, features.HISTORY)}
    np.testing.assert_allclose(loaded.query_embedding(queries).numpy(),
                               model.query_embedding(queries).numpy(), atol=1e-5)


def test_a_frozen_encoder_has_no_trainable_text_weights_and_a_bad_layer_count_is_refused():
    model = synthetic.model()
    assert not model.query_tower.text_encoder.trainable_weights
    with pytest.raises(ValueError, match=r"text_trainable_layers must be in 0\.\.6"):
        synthetic.model(text_trainable_layers=7)


@pytest.mark.heavy  # a pipeline run of its own: CI, not `make test`
def test_privrec_run_trains_the_top_text_layer_and_pushes_it(tmp_path):
    """`privrec run --text-trainable-layers 1` on the tiny shop: the pushed version's Keras model
    has MiniLM's last layer trained and the layers below it as pretrained."""
    privrec = os.path.join(os.path.dirname(sys.executable), "privrec")
    result = subprocess.run(
        [privrec, "run", "--size", "tiny", "--dev-key", "--train-steps", "5",
         "--text-trainable-layers", "1", "--work-dir", str(tmp_path),
         # 5 noisy DP steps land either side of the default Recall@10 floor: this test is about
         # which text layers train, so the gate must not decide whether a version is pushed.
         "--recall-floor", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    [version] = model_store.list_versions(str(tmp_path / "serving" / "privrec"))
    pushed = export.load_keras(str(tmp_path / "serving" / "privrec" / str(version)))
    assert pushed.query_tower.text_encoder.trainable_layers == 1
    pretrained = minilm.backbone()
    for index in range(pretrained.num_layers):
        same = all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(
            minilm.transformer_layer(pushed.query_tower.text_encoder.backbone, index).weights,
            minilm.transformer_layer(pretrained, index).weights))
        assert same == (index < pretrained.num_layers - 1), index
