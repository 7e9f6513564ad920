"""The inventory artifact's type name and files; reading needs no TensorFlow, so
`privrec inventory` starts fast."""
import json
import os
from typing import Dict

TYPE_NAME = "privrec.DataInventory"
JSON_FILE, HTML_FILE = "inventory.json", "inventory.html"


def read(directory: str) -> Dict:
    """inventory.json of an artifact directory (a local path, as `privrec inventory` reads)."""
    with open(os.path.join(directory, JSON_FILE), encoding="utf-8") as f:
        return json.load(f)
