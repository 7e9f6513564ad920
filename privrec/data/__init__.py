"""Input data: the raw schema, the embedded generator and the MovieLens loader."""
