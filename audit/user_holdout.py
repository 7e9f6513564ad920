"""Holds whole users out of training, for membership inference at the user level.

Members are the users whose interactions train the model; non-members are held-out users of the
same shop and the same period. Which users are held out depends only on a keyed hash of the
user id and `seed`, never on their data. The split writes the members' data as a normal data
directory (the public catalog plus their interaction files) and the non-members' rows beside
it, both outside the pipeline root: they are raw input, like the data directory they come from.
"""
import csv
import glob
import hashlib
import os
import shutil
from typing import Dict, List

from privrec.data import schema, time_window

MEMBERS_DIR, NON_MEMBERS_FILE = "members", "non_members.csv"


def is_held_out(user_id: str, share: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < share


def split(data_dir: str, out_dir: str, share: float = 0.5, seed: int = 0) -> Dict[str, str]:
    """Writes <out_dir>/members/ (catalog.csv, interactions/data.csv) and non_members.csv;
    returns their paths and the user counts."""
    if not 0 < share < 1:
        raise ValueError(f"the held-out share of users must be in (0, 1), not {share}")
    members_dir = os.path.join(out_dir, MEMBERS_DIR)
    os.makedirs(os.path.join(members_dir, schema.INTERACTIONS_DIR), exist_ok=True)
    shutil.copyfile(os.path.join(data_dir, schema.CATALOG_FILE),
                    os.path.join(members_dir, schema.CATALOG_FILE))
    window = time_window.read(os.path.join(data_dir, schema.INTERACTIONS_DIR))
    if window:  # the members' rows cover the same public period
        time_window.write(os.path.join(members_dir, schema.INTERACTIONS_DIR), window)
    kept: List[Dict[str, str]] = []
    held: List[Dict[str, str]] = []
    files = sorted(glob.glob(os.path.join(data_dir, schema.INTERACTIONS_DIR, "*.csv")))
    if not files:
        raise FileNotFoundError(f"no interaction files in {data_dir}/{schema.INTERACTIONS_DIR}")
    fields = None
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = fields or reader.fieldnames
            for row in reader:
                (held if is_held_out(row[schema.USER_ID], share, seed) else kept).append(row)
    paths = {"members_dir": members_dir,
             "non_members": os.path.join(out_dir, NON_MEMBERS_FILE)}
    for path, rows in ((os.path.join(members_dir, schema.INTERACTIONS_DIR, "data.csv"), kept),
                       (paths["non_members"], held)):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    counts = {"member_users": len({r[schema.USER_ID] for r in kept}),
              "non_member_users": len({r[schema.USER_ID] for r in held})}
    if not counts["member_users"] or not counts["non_member_users"]:
        raise ValueError(f"holding out {share:.0%} of the users of {data_dir} left "
                         f"{counts}; use more users or another share")
    return {**paths, **counts}


def read_rows(path: str) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
