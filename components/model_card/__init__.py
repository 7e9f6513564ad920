"""The model card written next to every pushed model (issue #7)."""
