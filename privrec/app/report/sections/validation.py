"""Validation: schema anomalies per split (ExampleValidator), drift against the previous run and
train/eval skew (DistributionValidator), each measurement against its threshold."""
import os
from typing import Dict

from privrec.app.report import anomalies, charts, page, text

SCHEMA, DRIFT, SKEW = "ExampleValidator", "DriftValidator", "SkewValidator"
CHECKS = {DRIFT: ("Drift", "this run's statistics against the previous run's, split by split"),
          SKEW: ("Skew", "the eval split (the newest share of the period, the closest stand-in "
                         "for serving traffic) against the train split")}


def producer(artifact) -> str:
    """The component that wrote an artifact: <pipeline root>/<component>/<output>/<id>."""
    return os.path.basename(os.path.dirname(os.path.dirname(artifact.uri.rstrip("/"))))


def _anomaly_rows(found: Dict):
    for split, records in found.items():
        for a in records["anomalies"]:
            yield (split, a["feature"], a["what"], a["details"])


def _comparison(component: str, found: Dict, key: str):
    title, what = CHECKS[component]
    yield page.heading(f"{title}: {what}")
    if not found:
        yield page.note("nothing compared: no earlier statistics to compare with (the first "
                        "run of this pipeline root)" if component == DRIFT else
                        "nothing compared")
        return
    rows, labels, ratios = [], [], []
    for pair, records in found.items():
        for m in records["measurements"]:
            within = m["value"] <= m["threshold"]
            rows.append((pair, m["feature"], m["measure"], m["value"], m["threshold"],
                         "within threshold" if within else "ABOVE threshold"))
            labels.append(f"{m['feature']} ({pair})" if len(found) > 1 else m["feature"])
            ratios.append(m["value"] / m["threshold"] if m["threshold"] else 0.0)
    yield page.table(("compared", "feature", "measure", "value", "threshold", "verdict"), rows,
                     numeric=(3, 4))
    flagged = list(_anomaly_rows(found))
    if flagged:
        yield page.table(("compared", "feature", "anomaly", "details"), flagged)
    if ratios:
        yield page.charts(charts.bars(
            f"{title}: measurement over threshold", labels, {"value / threshold": ratios},
            "value / threshold", f"{title} per feature as a share of its threshold: above 1 "
            "stops the run before Transform.", rotate=True, size=(5.2, 3.0)).replace(
                "<figure class='chart'>", f"<figure class='chart' id='{key}-chart'>"))


def section(facts) -> page.Section:
    by_component = {producer(a): a for a in facts.artifacts.get("ExampleAnomalies", [])}
    parts = [page.note("Checked before anything is transformed or trained on: any anomaly, "
                       "drift or skew beyond its threshold stops the run (AnomalyGate).")]
    schema = by_component.get(SCHEMA)
    parts.append(page.heading("Schema anomalies per split"))
    if schema is None:
        parts.append(page.note("ExampleValidator did not run"))
    else:
        found = anomalies.read(schema.uri)
        rows = list(_anomaly_rows(found))
        parts.append(page.table(("split", "feature", "anomaly", "details"), rows) if rows else
                     page.note(f"no anomaly against the curated schema in "
                               f"{', '.join(found) or 'any split'}"))
        schema_file = facts.anomaly_gate.get("schema_file")
        if schema_file:
            parts.append(page.note(f"curated schema: {schema_file}"))
    splits = facts.split_names()  # where a split pair's name is cut
    for component, key in ((DRIFT, "drift"), (SKEW, "skew")):
        artifact = by_component.get(component)
        if artifact is None:
            parts.append(page.note(f"{CHECKS[component][0]}: not configured"))
            continue
        parts += list(_comparison(component, anomalies.read(artifact.uri, splits), key))
    states = [(c["name"], text.words(c["state"].lower())) for c in facts.components]
    parts += [page.heading("Components of the run"), page.table(("component", "state"), states)]
    return page.Section("validation", "Validation", parts)
