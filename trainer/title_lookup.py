"""An item's public title vector as its history embedding: the query tower's recent items when
the model has no item-id embedding (TrainerConfig.item_id_embeddings = False).

Under user-level DP every trainable value is noised each step, and the item-id table is most of
them (catalog × embedding_dim). Without it, an item is its public features alone (the pretrained
MiniLM title vector and the category), and DP trains only the towers' MLPs and the category
embedding: as DP-CMF found, as ε shrinks public features carry the item representation.
"""
import numpy as np
import tensorflow as tf

from trainer import value_gather


@tf.keras.utils.register_keras_serializable(package="privrec")
class TitleLookup(tf.keras.layers.Layer):
    """[...] item indices -> [..., title_dim] frozen title vectors (no trainable weights).

    Inside TwoTowerModel it reads the candidate tower's `item_title_vectors` (one copy of the
    catalog's vectors); built alone (from_config) it holds zeros of the saved shape, set by
    the weights."""

    def __init__(self, item_title_vectors, **kwargs):
        super().__init__(**{**kwargs, "dtype": "float32", "autocast": False})
        if isinstance(item_title_vectors, tf.Variable):
            self.item_title_vectors = item_title_vectors
        else:
            self.item_title_vectors = self.add_weight(
                "item_title_vectors", shape=np.shape(item_title_vectors), dtype=tf.float32,
                trainable=False,
                initializer=tf.keras.initializers.Constant(np.asarray(item_title_vectors)))
        self.output_dim = int(self.item_title_vectors.shape[-1])
        self.built = True

    def call(self, item_idx: tf.Tensor) -> tf.Tensor:
        return value_gather.gather_value(self.item_title_vectors, item_idx)

    def get_config(self):
        return {**super().get_config(),
                "item_title_vectors": {"shape": self.item_title_vectors.shape.as_list()}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["item_title_vectors"] = np.zeros(config["item_title_vectors"]["shape"],
                                                np.float32)
        return cls(**config)
