"""Privacy audit: membership inference against the trained model (issue #7)."""
