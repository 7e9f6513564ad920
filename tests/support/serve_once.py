"""Starts a real gRPC model server on a base path, asks it once, stops it."""
from typing import List, Sequence, Tuple

from pipeline import configs
from serving import client, server


def recommend_once(base_path: str, query: str = "headphones", recent: Sequence[str] = (),
                   model_name: str = configs.MODEL_NAME
                   ) -> Tuple[int, int, List[Tuple[str, float]]]:
    """(version loaded at start, version that answered, items) for one Predict over gRPC."""
    model_server = server.ModelServer(model_name, base_path, port=0)
    address, loaded_version = model_server.start()
    try:
        served_version, items = client.recommend(address, "", query, recent, model_name)
    finally:
        model_server.stop()
    return loaded_version, served_version, items
