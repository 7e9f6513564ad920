"""The newest inventory in MLMD, and a readable text summary of one (`privrec inventory`)."""
import os
from typing import Dict, Iterable

from components.inventory import files
from privrec import metadata_store


def latest_uri(metadata_path: str) -> str:
    """The directory of the newest DataInventory artifact recorded in this MLMD store."""
    store = metadata_store.read_only(
        metadata_path, "run the pipeline first, or pass --work-dir / --metadata of a run")
    artifacts = store.get_artifacts_by_type(files.TYPE_NAME)
    if not artifacts:
        raise LookupError(f"no {files.TYPE_NAME} artifact in {metadata_path}: did the pipeline "
                          "run (with the DataInventory component)?")
    return max(artifacts, key=lambda a: a.id).uri


def _per_split(column: Dict, key: str, fmt) -> str:
    values = [f.get(key) for f in column["splits"].values()]
    return "/".join("–" if v is None else fmt(v) for v in values)


def lines(inventory: Dict, directory: str) -> Iterable[str]:
    lineage = inventory["lineage"]
    yield f"inventory     : {os.path.join(directory, files.HTML_FILE)}"
    for span in inventory["freshness"]:
        counts = ", ".join(f"{s} {t['examples']}" for s, t in span["splits"].items())
        yield f"span {span['span']:<8} : {span['first']} .. {span['last']} ({counts} examples)"
    yield (f"masking       : policy {lineage['masking_policy_version']} (sha256 "
           f"{lineage['masking_policy_sha256'][:12]}…), pseudonym key "
           f"{lineage['pseudonym_key_fingerprint']}; {lineage['rows_in']} rows in, "
           f"{lineage['rows_out']} out ({lineage['rows_suppressed']} dropped)")
    for f in lineage["source_files"]:
        yield f"source file   : {f['name']} ({f['bytes']} bytes, sha256 {f['sha256'][:12]}…)"
    splits = "/".join(next(c["splits"] for c in inventory["columns"].values()
                           if c["released"]))
    yield (f"{'column':<16} {'type':<7} {'privacy class':<18} {'complete ' + splits:<20} "
           f"{'distinct ' + splits:<18} values")
    for name, c in inventory["columns"].items():
        if not c["released"]:
            yield f"{name:<16} {'–':<7} {c['privacy_class']:<18} not released ({c['action']})"
            continue
        complete = _per_split(c, "completeness", lambda v: f"{v:.1%}")
        distinct = _per_split(c, "cardinality", str)
        shown = "withheld: " + c["values_withheld"] if c["values_withheld"] else "shown"
        yield f"{name:<16} {c['type']:<7} {c['privacy_class']:<18} {complete:<20} " \
              f"{distinct:<18} {shown}"
    associations = inventory["associations"]
    for a in associations["numeric"]:
        r, rho = (("–" if v is None else f"{v:+.3f}") for v in (a["pearson"], a["spearman"]))
        yield (f"association   : {' × '.join(a['columns'])}: Pearson {r}, Spearman {rho} "
               f"({a['examples']} examples)")
    for a in associations["categorical"]:
        v = "–" if a["cramers_v"] is None else f"{a['cramers_v']:.3f}"
        yield f"association   : {' × '.join(a['columns'])}: Cramér's V {v}"
