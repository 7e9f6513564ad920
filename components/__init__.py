"""privrec's custom TFX components.

Layer: beside trainer/ (neither imports the other), below pipeline/; imports serving/ and the
core (pyproject.toml's import-linter contracts draw the layers)."""
import privrec  # noqa: F401  (runtime switches)
