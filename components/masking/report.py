"""The masking report (JSON + HTML) written per run: cleaning counts per rule, masking counts,
k/l figures, ε per randomised column, stated per user (per-user columns: ε; per-row columns:
n·ε for a user with n rows).

It holds counts, shares, policy settings and the key's fingerprint — never a raw or masked
value of any row.
"""
import html
import json
import os
from typing import Dict, Optional

import tensorflow as tf

from components.masking import cleaning as cleaning_lib
from components.masking import pseudonymizer, randomize
from components.masking.policy import MaskingPolicy
from privrec import randomness

JSON_FILE = "masking_report.json"
HTML_FILE = "masking_report.html"


def local_dp(params: Dict, key_fingerprint: str) -> Dict:
    """Per whom ε holds for one randomised column: `unit`, `epsilon_per_user` and a sentence.

    Per-user columns get one release per user (randomize.py), so ε is per person. Per-row
    columns compose over a user's rows: a user with n rows gets n·ε (n·δ); n is a private count
    and is not released, so the per-user figure is stated as a function of n."""
    epsilon = float(params["epsilon"])
    delta = float(params["delta"]) if "delta" in params else None
    if randomize.unit(params) == randomize.USER:
        statement = (f"one release per pseudonymous user, the same on all of the user's rows: "
                     f"ε = {epsilon:g} per user. A user whose rows carry m different true values "
                     f"(a data error) gets one release per value: m·{epsilon:g}, and that the "
                     "values differ is not hidden.")
        if key_fingerprint == pseudonymizer.DEV_KEY_FINGERPRINT:
            statement += (" NOT PRIVATE in this run: the releases derive from the public "
                          "development key, anyone can recompute them.")
        return {"unit": randomize.USER, "epsilon_per_user": epsilon, "local_dp": statement}
    per_row = f"ε = {epsilon:g}" + (f", δ = {delta:g}" if delta is not None else "")
    per_user = f"n·{epsilon:g}" + (f", n·{delta:g}" if delta is not None else "")
    return {"unit": randomize.ROW, "epsilon_per_row": epsilon,
            "epsilon_per_user": f"{per_user} for a user with n rows holding a value",
            "local_dp": (f"each row randomised on its own: {per_row} per row; a user with n "
                         f"rows holding a value gets {per_user} (composition; n is not "
                         f"released). Noise: {randomness.status()}.")}


def build(policy: MaskingPolicy, key_fingerprint: str, stats: Dict[str, int],
          split_rows: Dict[str, int], k_anonymity: Optional[Dict],
          cleaning: Optional[Dict] = None) -> Dict:
    """`cleaning`: cleaning.summarize's section (rows removed per rule before masking);
    rows_in counts the rows masking received, after cleaning."""
    columns = {}
    for column, rule in policy.columns.items():
        entry = {"role": rule.role, "action": rule.action,
                 "non_empty_values_in": stats.get(f"{column}:non_empty", 0)}
        if rule.params:
            entry["settings"] = rule.params
        if rule.action == "randomize":
            entry.update(local_dp(rule.params, key_fingerprint))
            entry["epsilon"] = float(rule.params["epsilon"])
            if rule.params["method"] == "randomized_response":
                entry["keep_probability"] = randomize.keep_probability(
                    float(rule.params["epsilon"]), len(rule.params["domain"]))
            if rule.params["method"] == "gaussian":
                entry["delta"] = float(rule.params["delta"])
                entry["noise_stddev"] = randomize.gaussian_stddev(
                    float(rule.params["epsilon"]), float(rule.params["delta"]),
                    float(rule.params["lower"]), float(rule.params["upper"]))
        detections = {k.split(":", 1)[1]: v for k, v in stats.items()
                      if k.startswith(f"{column}:[")}
        if detections:
            entry["placeholders_inserted"] = detections
        columns[column] = entry
    rows_in = stats.get("rows_in", 0)
    rows_out = sum(split_rows.values())
    return {
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "pseudonym_key_fingerprint": key_fingerprint,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_suppressed": rows_in - rows_out,
        "rows_out_per_split": split_rows,
        "columns": columns,
        "k_anonymity": k_anonymity,
        "cleaning": cleaning,
    }


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _epsilon_text(column: Dict) -> str:
    if "epsilon" not in column:
        return ""
    if column.get("unit") == randomize.USER:
        return f"{column['epsilon']:g} per user"
    text = f"{column['epsilon']:g}"
    if "delta" in column:
        text += f" (δ {column['delta']:g}, σ {column['noise_stddev']:.4g})"
    if column.get("unit") == randomize.ROW:
        text += f" per row; {column['epsilon_per_user']}"
    return text


def to_html(report: Dict) -> str:
    summary = [(k, report[k]) for k in ("policy_version", "policy_sha256",
                                         "pseudonym_key_fingerprint", "rows_in", "rows_out",
                                         "rows_suppressed")]
    summary += [(f"rows out ({split})", n) for split, n in report["rows_out_per_split"].items()]
    columns = [(name, c["role"], c["action"], c["non_empty_values_in"], _epsilon_text(c),
                ", ".join(f"{p} {n}" for p, n in c.get("placeholders_inserted", {}).items()
                          if n))
               for name, c in report["columns"].items()]
    parts = ["<!doctype html><meta charset='utf-8'><title>privrec masking report</title>",
             "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 8px}"
             "table{border-collapse:collapse;margin-bottom:1em}</style>",
             "<h1>Masking report</h1>", _table(("", ""), summary),
             "<h2>Columns</h2>",
             _table(("column", "role", "action", "non-empty values in", "ε (local)",
                     "placeholders inserted"), columns)]
    statements = [(name, c["local_dp"]) for name, c in report["columns"].items()
                  if "local_dp" in c]
    if statements:
        parts += ["<h3>Local DP: per whom ε holds</h3>", _table(("column", ""), statements)]
    cleaned = report.get("cleaning")
    if cleaned:
        parts += ["<h2>Cleaning (raw rows, before masking)</h2>",
                  _table(("", ""), [(k, cleaned[k]) for k in (
                      "rows_read", "rows_removed", "removed_row_share", "max_removed_row_share")]),
                  _table(("rule", "setting", "rows removed"), cleaning_lib.lines(cleaned))]
        bots = cleaned["rules"][cleaning_lib.BOT_RULE]
        parts.append(f"<p>bot-like users removed: {bots['users_removed']}</p>")
    k = report.get("k_anonymity")
    if k:
        figures = [(name, value) for name, value in k.items()
                   if not isinstance(value, dict)]
        parts += ["<h2>Re-identification risk</h2>", _table(("", ""), figures),
                  "<h3>Users per equivalence class</h3>",
                  _table(("users", "classes"), k["class_size_histogram"].items()),
                  "<h3>l-diversity of released classes</h3>",
                  _table(("attribute", "min l", "classes with l = 1"),
                         [(a, v["min_l"], v["classes_with_l_1"])
                          for a, v in k["l_diversity"].items()])]
    return "\n".join(parts)


def to_json(report: Dict) -> str:
    """The JSON file's text."""
    return json.dumps(report, indent=2, sort_keys=True)


def write(report: Dict, directory: str) -> None:
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, JSON_FILE), "w") as f:
        f.write(to_json(report))
    with tf.io.gfile.GFile(os.path.join(directory, HTML_FILE), "w") as f:
        f.write(to_html(report))


def read(directory: str) -> Dict:
    with tf.io.gfile.GFile(os.path.join(directory, JSON_FILE)) as f:
        return json.load(f)
