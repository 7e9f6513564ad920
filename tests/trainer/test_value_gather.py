"""trainer/value_gather.py: the same lookups and gradients as Keras' Embedding and tf.gather on
a variable, and per-user gradients that tf.vectorized_map computes without a loop over users."""
import numpy as np
import tensorflow as tf

from tests.support import synthetic_two_tower as synthetic
from privrec.privacy import user_sampling
from trainer import query_vectors, value_gather


def test_embedding_looks_up_and_differentiates_like_keras_embedding():
    ids = tf.constant([[3, 0, 3], [7, 1, 2]], tf.int64)
    ours, keras = value_gather.Embedding(10, 4), tf.keras.layers.Embedding(10, 4)
    ours.build(None), keras.build(None)
    keras.set_weights(ours.get_weights())
    outputs, gradients = [], []
    for layer in (ours, keras):
        with tf.GradientTape() as tape:
            out = layer(ids)
            loss = tf.reduce_sum(out * tf.range(1.0, 5.0))
        outputs.append(out.numpy())
        gradients.append(tf.convert_to_tensor(tape.gradient(loss, layer.embeddings)).numpy())
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(gradients[0], gradients[1])
    assert gradients[0][3].sum() == 2 * 10.0 and gradients[0][9].sum() == 0.0


def _op_types(graph_def) -> set:
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes += function.node_def
    return {node.op for node in nodes}


def test_per_user_gradients_vectorize_without_a_loop_over_users():
    """Every lookup in the towers (item ids, categories, title vectors) is gathered from a
    value: pfor then has a converter for each op, and the graph holds no while loop."""
    model = synthetic.model()
    examples = query_vectors.precompute(synthetic.examples([5, 2, 8]),
                                        model.query_tower.text_encoder)
    sampler = user_sampling.UserSampler(examples, users_per_step=3, max_examples_per_user=4)
    batch = {k: tf.constant(v) for k, v in next(sampler.batches()).items()}
    negatives = model.sample_negatives()
    user_gradients = tf.function(synthetic.dp_trainer(model).user_gradients)
    graph = user_gradients.get_concrete_function(batch, negatives).graph
    ops = _op_types(graph.as_graph_def())
    assert "GatherV2" in ops
    assert not ops & {"While", "StatelessWhile", "ResourceGather"}, sorted(ops)
