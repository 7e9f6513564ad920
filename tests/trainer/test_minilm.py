"""The pretrained encoder (trainer/minilm.py) against sentence-transformers on PyTorch."""
import json
import os

import numpy as np

from pipeline import configs
from trainer import minilm

from tests.support.paths import FIXTURES

FIXTURE = os.path.join(FIXTURES, "minilm_reference.json")


def test_embeddings_match_sentence_transformers_within_1e_4_cosine_distance(tmp_path,
                                                                             monkeypatch):
    with open(FIXTURE, encoding="utf-8") as f:
        reference = json.load(f)
    expected = np.array(reference["embeddings"], np.float64)
    monkeypatch.setenv(minilm.CACHE_ENV, str(tmp_path))
    converted = minilm.embed(reference["sentences"]).astype(np.float64)
    cached = list(tmp_path.glob("minilm-*.weights.h5"))
    assert len(cached) == 1 and not list(tmp_path.glob("*partial*"))
    from_cache = minilm.embed(reference["sentences"][:3])  # a new backbone, from the cache
    distance = 1.0 - np.sum(converted * expected, axis=1) / (
        np.linalg.norm(converted, axis=1) * np.linalg.norm(expected, axis=1))
    worst = int(np.argmax(distance))
    assert distance.max() <= 1e-4, (reference["sentences"][worst], distance.max())
    np.testing.assert_allclose(from_cache, converted[:3], atol=1e-5)
    # Not trivially equal: different sentences give clearly different embeddings.
    assert np.sum(converted[0] * converted[1]) < 0.5
    assert converted.shape[1] == configs.TEXT_VECTOR_DIMS  # what the CLI checks --title-dims by


def test_tokenizer_is_bert_uncased_with_cls_sep_and_truncation():
    ids = minilm.tokenize(minilm.tf.constant(["Hello, WORLD", "word " * 400]), max_tokens=8)
    ids = ids.numpy()
    assert ids.shape == (2, 8)
    assert ids[0].tolist()[:5] == [101, 7592, 1010, 2088, 102] and not ids[0, 5:].any()
    assert ids[1, 0] == 101 and ids[1, -1] == 102  # truncated, still closed by [SEP]
