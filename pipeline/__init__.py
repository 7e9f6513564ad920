"""The pipeline: create_pipeline, configs, runners, spans, the run summary.

Layer: below audit/ and the roof; imports components/, trainer/, serving/ and the core
(pyproject.toml's import-linter contracts draw the layers)."""
import privrec  # noqa: F401  (runtime switches)
