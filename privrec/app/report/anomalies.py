"""TFDV's anomalies files (ExampleValidator, DistributionValidator) as plain records: per split
(or split pair) the anomalies found and the drift / skew measurements against thresholds."""
import os
from typing import Dict

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


def read(uri: str) -> Dict[str, Dict]:
    """{'train': {...}, 'eval vs train': {...}} for one ExampleAnomalies artifact directory."""
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
            compared, _, baseline = name.partition("_")
            name = f"{compared} vs {baseline}"
        found[name] = _records(parsed)
    return found
