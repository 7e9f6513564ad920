"""TrainerConfig.text_trainable_layers: MiniLM's top layers of the query encoder trained under
user-level DP, everything below them (and the catalog's title vectors) left as pretrained."""
import numpy as np
import pytest
import tensorflow as tf

from tests import synthetic_two_tower as synthetic
from trainer import export, features, privacy, user_sampling


def _dp_steps(model, steps=3):
    model.dp = privacy.UserLevelDP(1.0, 0.5, expected_users_per_step=3.0)
    model.compile(optimizer=privacy.make_optimizer({"learning_rate": 1e-2}))
    sampler = user_sampling.UserSampler(synthetic.examples([5, 2, 8, 4]), users_per_step=3,
                                        max_examples_per_user=4)
    model.fit(sampler.dataset(), steps_per_epoch=steps, epochs=1, verbose=0)


def test_dp_training_moves_only_the_top_text_layers_and_the_towers(tmp_path):
    model = synthetic.model(text_trainable_layers=2)
    encoder = model.text_encoder
    top = {id(v) for layer in encoder.top for v in layer.weights}
    assert [layer.name for layer in encoder.top] == ["transformer_layer_4", "transformer_layer_5"]
    frozen = [v for v in encoder.backbone.weights if id(v) not in top]
    before = {id(v): v.numpy().copy() for v in encoder.backbone.weights}
    titles_before = model.item_title_vectors.numpy().copy()
    _dp_steps(model)
    for v in frozen:  # word embeddings and layers 0-3: as pretrained
        np.testing.assert_array_equal(v.numpy(), before[id(v)], err_msg=v.name)
    moved = [v.name for v in encoder.backbone.weights
             if id(v) in top and not np.array_equal(v.numpy(), before[id(v)])]
    assert moved and all("transformer_layer_4" in n or "transformer_layer_5" in n for n in moved)
    np.testing.assert_array_equal(model.item_title_vectors.numpy(), titles_before)

    # The saved Keras model keeps the trained layers (privrec finetune continues from it).
    directory = str(tmp_path / "version")
    export.save_keras(model, directory)
    loaded = export.load_keras(directory)
    assert loaded.text_encoder.trainable_layers == 2
    queries = {name: tf.constant(values[:6]) for name, values in synthetic.examples([6]).items()
               if name in (features.QUERY_TOKENS, features.HISTORY)}
    np.testing.assert_allclose(loaded.query_embedding(queries).numpy(),
                               model.query_embedding(queries).numpy(), atol=1e-5)


def test_a_frozen_encoder_has_no_trainable_text_weights_and_a_bad_layer_count_is_refused():
    model = synthetic.model()
    assert not model.text_encoder.trainable_weights
    with pytest.raises(ValueError, match=r"text_trainable_layers must be in 0\.\.6"):
        synthetic.model(text_trainable_layers=7)
