"""A /monitoring/prometheus/metrics page read with prometheus_client's own parser."""
from typing import Optional

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> Optional[float]:
    """The value of the sample `name` whose labels include `labels`; None when there is none."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == value
                                          for key, value in labels.items()):
                return found.value
    return None
