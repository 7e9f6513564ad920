"""privrec's custom TFX components."""
import privrec  # noqa: F401  (runtime switches)
