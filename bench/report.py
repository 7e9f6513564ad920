"""What every bench script ends with: the targets, met or not, and the numbers as JSON."""
import json
import os
from typing import Dict, Optional


def print_targets(targets: Dict[str, bool]) -> None:
    print("targets:")
    width = max(map(len, targets), default=0)
    for name, met in targets.items():
        print(f"  {name:<{width}} {'met' if met else 'NOT MET'}")


def write_json(path: Optional[str], numbers: Dict) -> None:
    """Writes `numbers` to `path` (--json); nothing when no path was given."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(numbers, f, indent=2)
