"""The shape of a drift or skew check's thresholds (PipelineConfig.drift / .skew), owned by the
validation component that applies them (components/validation/distribution.py)."""
import dataclasses
from typing import Dict


@dataclasses.dataclass(frozen=True)
class DistributionThresholds:
    """Largest distance allowed per feature between two data sets' TFDV statistics
    (components/validation/distribution.py): L-infinity (largest difference in a value's share)
    for categorical features, approximate Jensen-Shannon divergence (histograms) for numeric
    ones. A feature not listed is not compared."""
    l_infinity: Dict[str, float]
    jensen_shannon: Dict[str, float]
