"""The model server: gRPC and REST over a pushed model version.

Layer: on the core only (privrec.contract, privrec.data, ...); components/ may import it
(pyproject.toml's import-linter contracts draw the layers)."""
import privrec  # noqa: F401  (runtime switches)
