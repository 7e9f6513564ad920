"""The model code the Trainer and Transform run: features, towers, task, training, export.

Layer: beside components/ (neither imports the other), below pipeline/; imports serving/ and
the core (pyproject.toml's import-linter contracts draw the layers)."""
import privrec  # noqa: F401  (runtime switches)
