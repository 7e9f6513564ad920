"""TFDV's anomalies files (ExampleValidator, DistributionValidator) as plain records: per split
(or split pair) the anomalies found and the drift / skew measurements against thresholds."""
import os
from typing import Dict, Iterable, Optional, Tuple

from tensorflow_metadata.proto.v0 import anomalies_pb2

FILE = "SchemaDiff.pb"
PREFIXES = ("SplitPair-", "Split-")
MEASURES = {"L_INFTY": "L-infinity distance", "JENSEN_SHANNON_DIVERGENCE": "Jensen-Shannon "
            "divergence", "NORMALIZED_ABSOLUTE_DIFFERENCE": "normalised absolute difference"}


def _records(anomalies: anomalies_pb2.Anomalies) -> Dict:
    found = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        for reason in info.reason or [info]:
            found.append({"feature": feature, "what": reason.short_description,
                          "details": reason.description.strip()})
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        found.append({"feature": "(the data set)", "what": info.short_description,
                      "details": info.description.strip()})
    measured = []
    for info in anomalies.drift_skew_info:
        for m in list(info.drift_measurements) + list(info.skew_measurements):
            name = type(m).Type.Name(m.type)
            measured.append({"feature": ".".join(info.path.step),
                             "measure": MEASURES.get(name, name.lower()),
                             "value": m.value, "threshold": m.threshold})
    return {"anomalies": found, "measurements": measured}


def split_pair(name: str, splits: Iterable[str] = ()) -> Optional[Tuple[str, str]]:
    """(compared, baseline) of a split pair's name, which TFX's DistributionValidator writes as
    '<compared>_<baseline>' though split names may hold '_' too: the one cut if there is one
    '_', else the cut whose two sides are both in `splits` (the run's split names), else the
    one whose sides are the same split (drift compares a split with its earlier self); None
    when nothing tells the cut."""
    cuts = [(name[:i], name[i + 1:]) for i, c in enumerate(name) if c == "_"]
    known = set(splits)
    for fits in (lambda a, b: len(cuts) == 1, lambda a, b: a in known and b in known,
                 lambda a, b: a == b):
        found = [cut for cut in cuts if fits(*cut)]
        if found:
            return found[0]
    return None


def read(uri: str, splits: Iterable[str] = ()) -> Dict[str, Dict]:
    """{'train': {...}, 'eval vs train': {...}} for one ExampleAnomalies artifact directory;
    `splits`, the run's split names, tell where a split pair's name is cut."""
    found = {}
    for entry in sorted(os.listdir(uri)) if os.path.isdir(uri) else ():
        prefix = next((p for p in PREFIXES if entry.startswith(p)), None)
        path = os.path.join(uri, entry, FILE)
        if prefix is None or not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            parsed = anomalies_pb2.Anomalies.FromString(f.read())
        name = entry[len(prefix):]
        if prefix == "SplitPair-":
            pair = split_pair(name, splits)
            name = f"{pair[0]} vs {pair[1]}" if pair else f"{name} (split pair)"
        found[name] = _records(parsed)
    return found
