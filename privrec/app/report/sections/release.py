"""Release: the pushed version and its released model card (DP outputs and public facts)."""
from typing import Dict, Optional

from privrec.app.report import page, text

CARD_PARTS = ("model", "data", "masking", "differential_privacy", "privacy_ledger",
              "membership_inference", "not_yet")
LONG = ("statement", "local_dp")  # long texts: shown below the tables


def _rows(part: Dict, prefix: str = ""):
    for key, value in part.items():
        if key in LONG:
            continue
        if isinstance(value, dict) and value and all(isinstance(v, dict)
                                                     for v in value.values()):
            for name, inner in value.items():
                yield from _rows(inner, f"{prefix}{text.words(key)}: {name}: ")
        else:
            yield (prefix + text.words(key), value)


def section(pushed: Optional[Dict], card: Optional[Dict]) -> page.Section:
    if pushed is None:
        return page.Section("release", "Release", [page.note(
            "nothing pushed: the run did not reach the Pusher")])
    if not pushed.get("pushed"):
        return page.Section("release", "Release", [page.note(
            "nothing pushed: the model was not blessed, so it is not served and has no card")])
    parts = [page.pairs([("pushed version", pushed["version"]),
                         ("pushed to", pushed["destination"])])]
    if card is None:
        parts.append(page.note("no released model card next to the pushed version"))
        return page.Section("release", "Release", parts)
    parts += [page.heading("Released model card"), page.note(card.get("card", "")),
              page.pairs([("intended use", card.get("intended_use"))]),
              page.heading("Limits"),
              "<ul>" + "".join(f"<li>{text.escape(limit)}</li>"
                               for limit in card.get("limits", [])) + "</ul>"]
    for name in CARD_PARTS:
        if card.get(name):
            parts += [page.heading(text.words(name).capitalize()),
                      page.pairs(_rows(card[name]))]
    statement = (card.get("differential_privacy") or {}).get("statement")
    if statement:
        parts += [page.heading("The accountant's statement"),
                  f"<pre>{text.escape(statement)}</pre>"]
    return page.Section("release", "Release", parts)
