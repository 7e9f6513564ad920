"""Benchmarks: masking, data throughput, retrieval quality, serving latency, membership inference.

Layer: the roof, beside privrec.app; may import every layer below (pyproject.toml's
import-linter contracts draw the layers)."""
