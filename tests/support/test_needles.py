"""tests/support/needles.py finds exactly what `needle in data` finds, wherever the needle is:
at either end, across the chunk boundary, overlapping another, or only as a prefix."""
import random

from tests.support import needles


def test_found_is_the_naive_search_on_random_data_with_planted_needles(monkeypatch):
    monkeypatch.setattr(needles, "_CHUNK", 1000)  # many chunk boundaries
    rng = random.Random(3)
    words = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20))) for _ in range(300)]
    words += [b"13800138000", b"13800138001", b"\xe5\xbc\xa0\xe4\xbc\x9f", b"ab", b"abcd"]
    for trial in range(30):
        data = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 5000)))
        for word in rng.sample(words, 5):
            at = rng.randrange(len(data) + 1)
            data[at:at] = word
        data += b"1380013800"  # a prefix of two needles at the very end, neither whole
        data = bytes(data)
        assert needles.found(data, words) == {w for w in words if w in data}, trial


def test_needles_at_the_ends_and_across_a_chunk_boundary(monkeypatch):
    monkeypatch.setattr(needles, "_CHUNK", 8)
    data = b"alice@x.cn" + b"-" * 3 + b"13800138000" + b"bob"
    assert needles.found(data, [b"alice@x.cn", b"13800138000", b"bob", b"carol"]) == {
        b"alice@x.cn", b"13800138000", b"bob"}
    assert needles.found(b"", [b"bob"]) == set() and needles.found(b"abc", [b"abcd"]) == set()
