"""Data: the inventory of the masked examples (columns, privacy classes, distributions,
correlations, freshness, lineage)."""
from typing import Dict

from privrec.app.report import charts, page, text
from privrec.data.schema import TIMESTAMP


def _per_split(column: Dict, key: str, fmt) -> str:
    values = [f.get(key) for f in column.get("splits", {}).values()]
    return " / ".join(text.DASH if v is None else fmt(v) for v in values)


def _columns(inventory: Dict):
    for name, c in inventory["columns"].items():
        if not c["released"]:
            yield (name, c["privacy_class"], c["action"], text.DASH, text.DASH, text.DASH,
                   "not released")
            continue
        yield (name, c["privacy_class"], c["action"], c["type"].lower(),
               _per_split(c, "completeness", text.share),
               _per_split(c, "cardinality", text.number),
               "withheld: " + c["values_withheld"] if c["values_withheld"] else "shown")


def _distributions(inventory: Dict):
    for name, c in inventory["columns"].items():
        splits = c.get("splits") or {}
        if not c["released"] or c["values_withheld"] or not splits:
            continue
        first = next(iter(splits.values()))
        if "top_values" in first or first.get("histogram"):
            yield charts.distribution(name, splits, f"{name} ({c['privacy_class']}, "
                                      f"{c['action']}): share of examples per split",
                                      dates=name == TIMESTAMP)


def section(inventory: Dict) -> page.Section:
    lineage = inventory["lineage"]
    splits = " / ".join(next((c["splits"] for c in inventory["columns"].values()
                              if c["released"]), {}))
    parts = [page.note("What the model was trained on, after masking: only masked examples "
                       "are read, and what a column may show depends on its privacy class."),
             page.pairs([
                 ("span", lineage["span"]),
                 ("masking policy", f"{lineage['masking_policy_version']} (sha256 "
                                    f"{lineage['masking_policy_sha256'][:12]}…)"),
                 ("pseudonym key fingerprint", lineage["pseudonym_key_fingerprint"]),
                 ("rows in / out / dropped", f"{text.number(lineage['rows_in'])} / "
                  f"{text.number(lineage['rows_out'])} / "
                  f"{text.number(lineage['rows_suppressed'])}"),
                 ("source files", ", ".join(f"{f['name']} ({text.number(f['bytes'])} bytes)"
                                           for f in lineage["source_files"]) or text.DASH)]),
             page.heading("Freshness"),
             page.table(("span", "split", "first event", "last event", "examples"),
                        [(s["span"], split, text.when(t["first"]), text.when(t["last"]),
                          t["examples"]) for s in inventory["freshness"]
                         for split, t in s["splits"].items()], numeric=(4,)),
             page.heading("Columns and privacy classes"),
             page.table(("column", "privacy class", "masking", "type",
                         f"complete ({splits})", f"distinct ({splits})", "values"),
                        _columns(inventory)),
             page.heading("Distributions"),
             page.charts(*_distributions(inventory))]
    associations = inventory["associations"]
    numeric = [(" × ".join(a["columns"]), a["examples"], a["pearson"], a["spearman"])
               for a in associations["numeric"]]
    categorical = [(" × ".join(a["columns"]), a["examples"],
                    " × ".join(map(str, a["categories"])), a["cramers_v"])
                   for a in associations["categorical"]]
    parts += [page.heading("Correlations"),
              page.table(("numeric pair", "examples", "Pearson r", "Spearman ρ"), numeric,
                         numeric=(1, 2, 3)),
              page.table(("categorical pair", "examples", "categories", "Cramér's V"),
                         categorical, numeric=(1, 3))]
    strength = [(row[0], row[3]) for row in categorical if row[3] is not None] + [
        (row[0], abs(row[2])) for row in numeric if row[2] is not None]
    if strength:
        parts.append(page.charts(charts.bars(
            "Association between columns", [n for n, _ in strength],
            {"strength": [v for _, v in strength]}, "Cramér's V or |Pearson r|",
            "How strongly pairs of released columns go together (0: independent).",
            size=(7.0, 3.2), rotate=True)))
    excluded = associations.get("excluded") or {}
    if excluded:
        parts.append(page.table(("column not associated", "why"), excluded.items()))
    return page.Section("data", "Data", parts)
