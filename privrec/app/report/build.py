"""Builds `<work-dir>/report/index.html` from what is in the work dir: the newest pipeline run
(MLMD + artifacts) and, when present, the audit's and the privacy-utility curve's results."""
import datetime
import json
import os
from typing import List, Optional

from pipeline import run_summary
from privrec import metadata_store
from privrec.app.report import charts, facts as facts_lib, metrics, page
from privrec.app.report.sections import (data, evaluation, masking, privacy, release, studies,
                                         summary, validation)

REPORT_DIR, INDEX = "report", "index.html"
AUDIT_JSON, UTILITY_JSON = "mia.json", "privacy_utility.json"   # audit/run.py, privacy_utility
STUDY_PIPELINE = "pipeline"  # where audit and privacy-report run their pipeline


def path(work_dir: str) -> str:
    return os.path.join(os.path.abspath(work_dir), REPORT_DIR, INDEX)


def _not_reached(facts: facts_lib.RunFacts, key: str, title: str, what: str) -> page.Section:
    """The section of a stage the run left no output of: not reached, when a component failed."""
    failed = [c["name"] for c in facts.components if c["state"] == "FAILED"]
    why = (f"Not reached: the run stopped when {failed[0]} failed; there is no {what}." if failed
           else f"There is no {what} in this run.")
    return page.Section(key, title, [page.note(why)])


def run_sections(facts: facts_lib.RunFacts) -> List[page.Section]:
    """The run's sections; one whose stage did not run (a run that validation stopped) says so."""
    sections = [data.section(facts.inventory) if facts.inventory else _not_reached(
        facts, "data", "Data", "data inventory (it is built once the data passed validation)")]
    sections.append(masking.section(facts.masking) if facts.masking else _not_reached(
        facts, "masking", "Masking", "masking report"))
    sections.append(validation.section(facts))
    sections.append(privacy.section(facts.privacy, facts.training, facts.ledger)
                    if facts.privacy else _not_reached(
                        facts, "privacy", "Training and privacy", "trained model"))
    evaluation_artifact = facts.latest("ModelEvaluation")
    per_slice = None
    if evaluation_artifact is not None:
        blessed = facts.prop("ModelBlessing", "blessed")
        per_slice = metrics.per_slice(evaluation_artifact.uri)
        sections.append(evaluation.section(
            per_slice, run_summary.gate_failures(evaluation_artifact.uri),
            None if blessed is None else blessed == 1))
    else:
        sections.append(_not_reached(facts, "evaluation", "Evaluation",
                                     "evaluation of a model"))
    sections.append(release.section(
        None if facts.latest("PushedModel") is None else
        {"pushed": facts.prop("PushedModel", "pushed") == 1,
         "version": facts.prop("PushedModel", "pushed_version"),
         "destination": facts.prop("PushedModel", "pushed_destination")}, facts.card))
    overall = (per_slice or {}).get(metrics.OVERALL)
    return [summary.section(facts, overall)] + sections


def _pipeline_dir(work_dir: str) -> Optional[str]:
    for candidate in (work_dir, os.path.join(work_dir, STUDY_PIPELINE)):
        if os.path.exists(metadata_store.in_work_dir(candidate)):
            return candidate
    return None


def _json(work_dir: str, name: str):
    file = os.path.join(work_dir, name)
    if not os.path.exists(file):
        return None
    with open(file, encoding="utf-8") as f:
        return json.load(f)


def write(work_dir: str) -> str:
    """Writes the page; returns its path. Raises LookupError when the work dir holds no run."""
    work_dir = os.path.abspath(work_dir)
    charts.reset_marks()
    pipeline_dir = _pipeline_dir(work_dir)
    sections, subtitle = [], []
    if pipeline_dir:
        facts = facts_lib.collect(pipeline_dir)
        sections += run_sections(facts)
        subtitle.append(f"pipeline run {facts.run}")
    mia, curve = _json(work_dir, AUDIT_JSON), _json(work_dir, UTILITY_JSON)
    if mia:
        sections.append(studies.audit(mia))
    if curve:
        sections.append(studies.utility(curve))
    if not sections:
        raise LookupError(f"nothing to report in {work_dir}: no {metadata_store.METADATA_FILE}, "
                          f"{AUDIT_JSON} or {UTILITY_JSON}")
    built = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle += [work_dir, f"built {built}"]
    target = path(work_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write(page.render("privrec run report", " · ".join(subtitle), sections))
    return target
