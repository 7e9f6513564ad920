"""Masking: what ingestion did to each column (placeholders per PII detector, k-anonymity and
l-diversity of the quasi-identifiers, local-DP ε per randomised column, cleaning)."""
from typing import Dict

from privrec.app.report import charts, page, text


def _epsilon(column: Dict) -> str:
    if "epsilon" not in column:
        return text.DASH
    if column.get("unit") == "user":
        return f"ε {column['epsilon']:g} per user"
    words = f"ε {column['epsilon']:g} per row"
    if "delta" in column:
        words += f", δ {column['delta']:g}"
    return words + f"; {column['epsilon_per_user']}"


def _setting(rule: str, setting) -> str:
    if "timestamp" in rule and isinstance(setting, list):
        return " to ".join(text.utc(s) for s in setting)
    return text.value(setting)


def _detectors(masking: Dict) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for column in masking["columns"].values():
        for placeholder, count in column.get("placeholders_inserted", {}).items():
            found[placeholder] = found.get(placeholder, 0) + count
    return dict(sorted(found.items()))


def _k_anonymity(k: Dict):
    yield page.heading("k-anonymity and l-diversity")
    yield page.pairs([
        ("quasi-identifiers", ", ".join(k["quasi_identifiers"])),
        ("k required (k min)", k["k_min"]),
        ("smallest class released", k.get("min_k_released")),
        ("smallest class before suppression", k.get("min_k_before_suppression")),
        ("equivalence classes", k.get("classes")),
        ("classes below k min", k.get("classes_below_k_min")),
        ("rows with quasi-identifiers suppressed", k.get("rows_with_suppressed_quasi_identifiers")),
        ("share of rows suppressed", text.share(k.get("suppressed_row_share"))),
        ("how", k.get("suppression"))])
    if k.get("l_diversity"):
        yield page.table(("sensitive attribute", "smallest l", "classes with l = 1"),
                         [(a, v["min_l"], v["classes_with_l_1"])
                          for a, v in k["l_diversity"].items()], numeric=(1, 2))
    histogram = k.get("class_size_histogram") or {}
    if histogram:
        order = sorted(histogram, key=lambda b: int(b.split("-")[0].rstrip("+")))
        yield page.charts(charts.bars(
            "Users per equivalence class", order, {"classes": [histogram[b] for b in order]},
            "classes", f"Classes of (pseudonymous) users sharing the same quasi-identifiers, by "
            f"size before suppression; classes under k = {k['k_min']} had their "
            "quasi-identifiers suppressed."))


def section(masking: Dict) -> page.Section:
    cleaning = masking.get("cleaning") or {}
    parts = [page.note("Masking runs at ingestion (MaskingExampleGen): nothing downstream, the "
                       "model included, ever sees a raw value."),
             page.pairs([
                 ("policy", f"{masking['policy_version']} (sha256 "
                            f"{masking['policy_sha256'][:12]}…)"),
                 ("pseudonym key fingerprint", masking["pseudonym_key_fingerprint"]),
                 ("rows in", masking["rows_in"]), ("rows out", masking["rows_out"]),
                 ("rows dropped (in minus out)", masking["rows_suppressed"]),
                 ("rows out per split", ", ".join(
                     f"{split} {text.number(n)}"
                     for split, n in masking["rows_out_per_split"].items()))]),
             page.heading("Columns"),
             page.table(("column", "role", "action", "non-empty values in", "local DP"),
                        [(name, text.words(c["role"]), c["action"], c["non_empty_values_in"],
                          _epsilon(c)) for name, c in masking["columns"].items()],
                        numeric=(3,))]
    detectors = _detectors(masking)
    parts.append(page.heading("PII placeholders per detector (free text)"))
    if detectors:
        parts += [page.table(("detector", "placeholders inserted"), detectors.items(),
                             numeric=(1,)),
                  page.charts(charts.bars(
                      "Placeholders per detector", list(detectors),
                      {"placeholders": list(detectors.values())}, "values replaced",
                      "Personal data found in free text and replaced by a placeholder.",
                      rotate=True))]
    else:
        parts.append(page.note("no personal data found in free text"))
    local = [(name, c["local_dp"]) for name, c in masking["columns"].items() if "local_dp" in c]
    if local:
        parts += [page.heading("Local DP: per whom ε holds"),
                  page.table(("column", "guarantee"), local)]
    if masking.get("k_anonymity"):
        parts += list(_k_anonymity(masking["k_anonymity"]))
    if cleaning:
        parts += [page.heading("Cleaning (raw rows, before masking)"),
                  page.table(("rule", "setting", "rows removed"),
                             [(text.words(rule), _setting(rule, r.get("setting")),
                               r.get("rows_removed"))
                              for rule, r in cleaning["rules"].items()], numeric=(2,)),
                  page.note(f"{text.number(cleaning['rows_removed'])} of "
                            f"{text.number(cleaning['rows_read'])} raw rows removed "
                            f"({text.share(cleaning['removed_row_share'])}; at most "
                            f"{text.share(cleaning['max_removed_row_share'])} allowed).")]
    return page.Section("masking", "Masking", parts)
