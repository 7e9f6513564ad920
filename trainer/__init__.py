"""trainer stage of privrec."""
import privrec  # noqa: F401  (runtime switches)
