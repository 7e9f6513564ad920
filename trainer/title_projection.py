"""The catalog's title vectors projected onto their top principal directions
(TrainerConfig.title_dims): fewer values for DP-SGD to clip and noise, and a cheaper step.

Without item-id embeddings (trainer/title_lookup.py) the towers' first layers take 384-d
MiniLM vectors (the item's title, the history's titles, the query), and those weights are most
of what DP-SGD trains: every one is noised each step, and the ghost clipping pass pays for
each user's gradient over the shared negatives in proportion to them. The catalog's titles span
far fewer directions than 384. Projecting titles and queries onto the titles' top `dims` right
singular vectors keeps what distinguishes items and drops the rest before the first layer.

The directions are a function of the public catalog alone (item titles), never of anyone's
interactions, so the projection needs no privacy budget. The SVD is not centred: the zero
vector (a query without words, trainer/text_encoder.py) stays zero.
"""
import numpy as np


def principal_directions(title_vectors: np.ndarray, dims: int) -> np.ndarray:
    """[items, d] title vectors -> [d, dims] orthonormal columns: the top right singular
    vectors of the (uncentred) matrix."""
    title_vectors = np.asarray(title_vectors, np.float64)
    if not 0 < dims < title_vectors.shape[-1]:
        raise ValueError(f"title_dims must be in 1..{title_vectors.shape[-1] - 1} (below the "
                         f"title vectors' {title_vectors.shape[-1]} dimensions), got {dims}")
    _, _, right = np.linalg.svd(title_vectors, full_matrices=False)
    return right[:dims].T.astype(np.float32)
