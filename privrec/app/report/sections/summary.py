"""Summary: the run's key figures as tiles (privacy, quality, verdict, data), each from the
same facts the sections below show in full."""
import html
from typing import Dict, List, Optional, Tuple

from privrec.app.report import page, text


def _tile(label: str, value: str, detail: str) -> str:
    return (f"<div class='tile'><div class='tile-label'>{html.escape(label)}</div>"
            f"<div class='tile-value'>{html.escape(value)}</div>"
            f"<div class='tile-detail'>{html.escape(detail)}</div></div>")


def section(facts, overall: Optional[Dict[str, Dict[str, float]]]) -> page.Section:
    tiles: List[Tuple[str, str, str]] = []
    privacy = facts.privacy
    if privacy:
        tiles.append(("user-level ε", text.epsilon(privacy["epsilon"]),
                      f"at δ {privacy['delta']:.2g}, {privacy['accountant'].split(' (')[0]}"
                      f" accountant"))
    candidate = (overall or {}).get("candidate", {})
    for metric, name in (("recall_at_10", "Recall@10"), ("ndcg_at_10", "NDCG@10")):
        if metric in candidate:
            before = (overall or {}).get("baseline", {}).get(metric)
            tiles.append((name, f"{candidate[metric]:.3f}", "first model: no baseline"
                          if before is None else f"baseline {before:.3f}"))
    blessed = facts.prop("ModelBlessing", "blessed")
    if blessed is not None:
        version = facts.prop("PushedModel", "pushed_version")
        tiles.append(("verdict", "blessed" if blessed == 1 else "not blessed",
                      f"pushed version {version}" if version else "not pushed"))
    if facts.masking:
        placeholders = sum(n for c in facts.masking["columns"].values()
                           for n in c.get("placeholders_inserted", {}).values())
        tiles.append(("rows masked", text.number(facts.masking["rows_out"]),
                      f"{text.number(placeholders)} PII values replaced in free text"))
    failed = [c["name"] for c in facts.components if c["state"] not in ("COMPLETE", "CACHED")]
    tiles.append(("components complete", f"{len(facts.components) - len(failed)} / "
                                         f"{len(facts.components)}",
                  "failed: " + ", ".join(failed) if failed else f"run {facts.run}"))
    return page.Section("summary", "Summary", [
        "<div class='tiles'>" + "".join(_tile(*t) for t in tiles) + "</div>"])
