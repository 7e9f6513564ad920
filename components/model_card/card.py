"""The model card: what a pushed model was trained on, how it was protected, how well it works.

Two cards per pushed model. The *internal* card (`build`) holds exact counts of the private
data (rows per split, suppressed rows, k-anonymity classes, PII placeholders found) and the
Evaluator's metrics on private eval users: it stays in the PushedModel artifact under the
pipeline root. The *released* card (`released`), written next to the pushed model where
serving infrastructure and whoever imports the model can read it, holds only DP outputs and
public facts: ε, δ, the accountant, the sampling assumption, the mechanism's settings, the
DP count of users, the masking policy and its hash, and what ε covers.

Every number is read from the run's own artifacts: the masking report (ExampleGen), the privacy
report the Trainer's accountant wrote into the model (assets.extra/privacy.json), the
Evaluator's metrics and the Examples artifact's span; the membership inference section from the
audit that attacked this very model (`privrec audit`, audit/run.py). Nothing is typed in. A small template
(JSON + HTML): the `model-card-toolkit` package pins protobuf/TFMA versions the stack cannot take.
"""
import html
import json
import os
from typing import Dict, Optional

JSON_FILE, HTML_FILE = "model_card.json", "model_card.html"
DIRECTORY = "model_card"  # inside the pushed version directory; TF Serving ignores it

INTENDED_USE = (
    "Candidate retrieval for product search and recommendations in one shop: a search query and "
    "the items a visitor just interacted with (carried in the request) in, the top catalog "
    "items out. No per-user state: new and anonymous visitors are served the same way.")
LIMITS = [
    "User-level DP: ε bounds what the weights reveal about any one user's whole history (all "
    "their interactions), for the users of the training split; see 'what ε covers'.",
    "Trained on one shop's catalog: item ids outside it are unknown to the model.",
    "Retrieval only: rank the returned candidates with business rules or a ranking model "
    "before showing them.",
    "Masked training data: queries had personal data replaced by placeholders, so the model "
    "never learnt from those values and cannot return them.",
]
NOT_YET = {
    "membership_inference": "not run on this version: it needs users held out of training, "
                            "so `privrec audit` runs it (DP vs non-DP) and adds its results "
                            "to the card of the model it attacks",
}


def build(privacy: Dict, masking: Dict, metrics: Dict[str, float], data: Dict,
          model: Dict, ledger: Optional[Dict] = None) -> Dict:
    """privacy: privacy.json; masking: the masking report; metrics: the Evaluator's candidate
    metrics (overall; `cold_start_*` on items with no training interaction); data: span and
    source of the Examples; model: name, version, blessing; ledger: the Model's
    privacy ledger (privrec/privacy/span_ledger.py)."""
    k = masking.get("k_anonymity") or {}
    detectors: Dict[str, int] = {}
    for column in masking["columns"].values():
        for placeholder, count in column.get("placeholders_inserted", {}).items():
            detectors[placeholder] = detectors.get(placeholder, 0) + count
    return {
        "model": model,
        "intended_use": INTENDED_USE,
        "limits": LIMITS,
        "data": {**data, "rows_in": masking["rows_in"], "rows_out": masking["rows_out"],
                 "rows_suppressed": masking["rows_suppressed"],
                 "rows_out_per_split": masking["rows_out_per_split"]},
        "masking": {
            "policy_version": masking["policy_version"],
            "policy_sha256": masking["policy_sha256"],
            "pseudonym_key_fingerprint": masking["pseudonym_key_fingerprint"],
            "placeholders_inserted": detectors,
            "local_dp_columns": {c: {k2: v for k2, v in col.items()
                                     if k2 in ("unit", "epsilon", "epsilon_per_user",
                                               "delta", "noise_stddev", "keep_probability",
                                               "local_dp")}
                                 for c, col in masking["columns"].items() if "epsilon" in col},
            "k_anonymity": {key: k[key] for key in (
                "quasi_identifiers", "k_min", "min_k_released", "classes",
                "rows_with_suppressed_quasi_identifiers", "suppression", "l_diversity")
                if key in k},
        },
        "differential_privacy": {key: privacy.get(key) for key in (
            "privacy_unit", "epsilon", "delta", "epsilon_this_run", "noise_multiplier",
            "l2_norm_clip", "num_users", "users_per_step", "max_examples_per_user",
            "num_examples", "steps", "epochs", "accountant", "sampling_assumption",
            "example_level", "target_epsilon", "popularity_noise_multiplier",
            "user_count_noise_multiplier", "randomness", "epsilon_covers", "statement")}
        | {"dp_runs": len(privacy.get("runs") or ()) or 1},
        "evaluation": metrics,
        "not_yet": NOT_YET,
    } | ({"privacy_ledger": privacy_ledger(ledger)} if ledger else {})


RELEASED_DP_KEYS = (
    "privacy_unit", "epsilon", "delta", "epsilon_this_run", "noise_multiplier", "l2_norm_clip",
    "num_users", "user_count_noise_multiplier", "users_per_step", "max_examples_per_user",
    "steps", "epochs", "accountant", "sampling_assumption", "example_level", "target_epsilon",
    "popularity_noise_multiplier", "randomness", "epsilon_covers", "dp_runs", "statement")
RELEASED_NOTE = (
    "This is the released card: DP outputs and public settings only. Exact counts of the "
    "private data and the Evaluator's metrics (on private eval users, not covered by ε) are in "
    "the internal card of the PushedModel artifact under the pipeline root.")


def released(internal: Dict) -> Dict:
    """The card that travels with the model: `internal` without any exact private statistic
    (rows, suppressed rows, k-anonymity class counts, placeholder counts, Evaluator metrics,
    the input's fingerprint, num_examples); `num_users` is the run's DP count."""
    masking = internal["masking"]
    k = masking.get("k_anonymity") or {}
    dp = internal["differential_privacy"]
    card = {
        "model": internal["model"],
        "intended_use": internal["intended_use"],
        "limits": internal["limits"],
        "card": RELEASED_NOTE,
        "data": {"source": internal["data"].get("source"), "span": internal["data"].get("span")},
        "masking": {
            "policy_version": masking["policy_version"],
            "policy_sha256": masking["policy_sha256"],
            "pseudonym_key_fingerprint": masking["pseudonym_key_fingerprint"],
            "pii_detectors": sorted(masking.get("placeholders_inserted", {})),
            "local_dp_columns": masking["local_dp_columns"],
            "k_anonymity": {key: k[key] for key in ("quasi_identifiers", "k_min") if key in k},
        },
        "differential_privacy": {key: dp.get(key) for key in RELEASED_DP_KEYS},
        "not_yet": internal["not_yet"],
    }
    if "privacy_ledger" in internal:
        card["privacy_ledger"] = internal["privacy_ledger"]
    if "membership_inference" in internal:
        card["membership_inference"] = {
            "where": "the internal card (AUCs measured on private users, not covered by ε)"}
    return card


def privacy_ledger(ledger: Dict) -> Dict:
    """The span ledger's figures: each span's cumulative user-level ε over every DP run of the
    pipeline (what the budget is checked against), next to the warm-start chain's ε above.
    The model's own run is the ledger's last."""
    trained_spans = ledger["runs"][-1]["spans"]
    by_span = {span: ledger["epsilon_by_span"][str(span)] for span in trained_spans}
    return {"trained_spans": list(trained_spans), "epsilon_by_span": ledger["epsilon_by_span"],
            "max_epsilon_of_trained_spans": max(by_span.values(), default=None),
            "delta": ledger["delta"], "dp_runs_composed": len(ledger["runs"]),
            "epsilon_budget": ledger["epsilon_budget"],
            "spans_share_users": ledger["spans_share_users"],
            "statement": "Each span's ε composes (RDP) every DP run this pipeline trained, "
                         "blessed or not (outside span mode every run trains on all the data: "
                         "span 0)" + (
                             ", since any user may be in every span" if
                             ledger["spans_share_users"] else
                             ", restricted to the runs that trained on that span (spans hold "
                             "disjoint users)") + ". The differential privacy section's ε "
                         "composes only this model's warm-start chain."}


def membership_inference(report: Dict, report_path: str) -> Dict:
    """The card's membership inference section from an audit report (audit/run.py): per model
    (the pushed DP model and the same model trained without DP) and level (user, example), the
    strongest attack on all users and the most vulnerable slice."""
    def strongest(rows, slice_name=None):
        rows = [r for r in rows if slice_name is None or r["slice"] == slice_name]
        best = max(rows, key=lambda r: r["auc"])
        return {key: best[key] for key in ("slice", "attack", "auc", "advantage", "members",
                                           "non_members")}
    return {
        "library": "tensorflow_privacy.privacy.privacy_tests.membership_inference_attack",
        "members": "users whose data trained the model",
        "non_members": "whole users held out of training by a keyed hash, masked and "
                       "k-anonymised like the members",
        "member_users": report["holdout"]["member_users"],
        "non_member_users": report["holdout"]["non_member_users"],
        "models": {name: {"epsilon": model["epsilon"], **{
            level: {"all_users": strongest(model[level], "all users"),
                    "most_vulnerable": strongest(model[level])}
            for level in ("user", "example")}} for name, model in report["models"].items()},
        "report": report_path,
    }


def with_membership_inference(built: Dict, section: Dict) -> Dict:
    """The card with the audit's section in place of its 'not yet' entry."""
    not_yet = {k: v for k, v in built["not_yet"].items() if k != "membership_inference"}
    return {**built, "membership_inference": section, "not_yet": not_yet}


def _rows(mapping: Dict) -> str:
    return "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
                   for k, v in mapping.items())


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_html(card: Dict) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>privrec model card</title>",
             "<style>body{font-family:sans-serif;max-width:60em}th{text-align:left}"
             "td,th{border:1px solid #ccc;padding:2px 8px;vertical-align:top}"
             "table{border-collapse:collapse;margin-bottom:1em}</style>",
             f"<h1>Model card: {html.escape(str(card['model'].get('name')))} version "
             f"{html.escape(str(card['model'].get('version')))}</h1>",
             f"<h2>Intended use</h2><p>{html.escape(card['intended_use'])}</p>",
             "<h2>Limits</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>"
                                            for x in card["limits"]) + "</ul>"]
    if card.get("card"):
        parts.append(f"<p>{html.escape(card['card'])}</p>")
    for title, key in (("Data", "data"), ("Masking", "masking"),
                       ("Differential privacy", "differential_privacy"),
                       ("Privacy ledger (ε per data span)", "privacy_ledger"),
                       ("Evaluation (whole catalog)", "evaluation"),
                       ("Membership inference", "membership_inference"), ("Not yet", "not_yet")):
        if key not in card:
            continue
        section = dict(card[key])
        statement = section.pop("statement", None)
        parts.append(f"<h2>{title}</h2><table>{_rows(section)}</table>")
        if statement:
            parts.append(f"<pre>{html.escape(statement)}</pre>")
    return "\n".join(parts)


def write(card: Dict, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, JSON_FILE), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, ensure_ascii=False)
    with open(os.path.join(directory, HTML_FILE), "w", encoding="utf-8") as f:
        f.write(to_html(card))


def read(model_dir: str) -> Optional[Dict]:
    path = os.path.join(model_dir, DIRECTORY, JSON_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)
