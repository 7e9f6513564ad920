"""Privacy audit: membership inference against the trained model (issue #7).

Layer: above pipeline/, below the roof (privrec.app and bench/ run audits); pyproject.toml's
import-linter contracts draw the layers."""
