"""What a run left, read from its MLMD store and the files its components wrote: the newest
pipeline run's output artifacts by type, and the JSON of each (masking report, inventory,
privacy report, training summary, privacy ledger, released model card). A fact a run did not
produce (it stopped early, or the model was not pushed) is None."""
import dataclasses
import json
import os
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from privrec import metadata_store

MASKING_REPORT, INVENTORY = "privrec.MaskingReport", "privrec.DataInventory"
MASKING_JSON, INVENTORY_JSON = "masking_report.json", "inventory.json"
PRIVACY_JSON = os.path.join("Format-Serving", "assets.extra", "privacy.json")  # trainer/export
TRAINING_JSON, LEDGER_JSON = "training.json", "privacy_ledger.json"
CARD_JSON = os.path.join("model_card", "model_card.json")          # components/model_card


@dataclasses.dataclass
class RunFacts:
    work_dir: str
    run: str                                  # the pipeline run's name (its start time)
    components: List[Dict]                    # [{'name', 'state'}] in execution order
    artifacts: Dict[str, List]                # type name -> this run's output artifacts
    masking: Optional[Dict] = None
    inventory: Optional[Dict] = None
    privacy: Optional[Dict] = None
    training: Optional[Dict] = None
    ledger: Optional[Dict] = None
    card: Optional[Dict] = None               # the released card next to the pushed model
    anomaly_gate: Dict = dataclasses.field(default_factory=dict)  # its execution's settings

    def latest(self, type_name: str):
        found = self.artifacts.get(type_name)
        return max(found, key=lambda a: a.id) if found else None

    def split_names(self) -> List[str]:
        """The run's split names: its newest statistics' (or examples') `split_names`."""
        for type_name in ("ExampleStatistics", "Examples"):
            artifact = self.latest(type_name)
            if artifact is not None and "split_names" in artifact.properties:
                return json.loads(artifact.properties["split_names"].string_value or "[]")
        return []

    def prop(self, type_name: str, name: str):
        artifact = self.latest(type_name)
        if artifact is None or name not in artifact.custom_properties:
            return None
        value = artifact.custom_properties[name]
        return value.string_value or value.int_value


def _json(*parts) -> Optional[Dict]:
    path = os.path.join(*parts)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _settings(execution) -> Dict:
    return {k: v.string_value or v.int_value for k, v in execution.custom_properties.items()}


def collect(work_dir: str) -> RunFacts:
    """The newest pipeline run of `work_dir` (its metadata.sqlite and pipeline_root)."""
    work_dir = os.path.abspath(work_dir)
    metadata_path = metadata_store.in_work_dir(work_dir)
    metadata = metadata_store.read_only(metadata_path,
                                        "run the pipeline first (privrec run --work-dir …)")
    runs = metadata.get_contexts_by_type("pipeline_run")
    if not runs:
        raise LookupError(f"no pipeline run recorded in {metadata_path}")
    run = max(runs, key=lambda c: c.id)
    executions = sorted(metadata.get_executions_by_context(run.id), key=lambda e: e.id)
    types = {t.id: t.name for t in metadata.get_execution_types()}
    states = metadata_store_pb2.Execution.State
    node_type = metadata.get_context_type("node").id
    components, gate = [], {}
    for execution in executions:
        nodes = [c.name for c in metadata.get_contexts_by_execution(execution.id)
                 if c.type_id == node_type]
        name = nodes[0].rsplit(".", 1)[-1] if nodes else types[execution.type_id]
        components.append({"name": name, "state": states.Name(execution.last_known_state)})
        if name == "AnomalyGate":
            gate = _settings(execution)
    events = metadata.get_events_by_execution_ids([e.id for e in executions])
    outputs = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
    artifact_types = {t.id: t.name for t in metadata.get_artifact_types()}
    artifacts: Dict[str, List] = {}
    for artifact in metadata.get_artifacts_by_id(outputs):
        artifacts.setdefault(artifact_types[artifact.type_id], []).append(artifact)
    facts = RunFacts(work_dir=work_dir, run=run.name, components=components,
                     artifacts=artifacts, anomaly_gate=gate)
    uri = lambda type_name: getattr(facts.latest(type_name), "uri", None)  # noqa: E731
    if uri(MASKING_REPORT):
        facts.masking = _json(uri(MASKING_REPORT), MASKING_JSON)
    if uri(INVENTORY):
        facts.inventory = _json(uri(INVENTORY), INVENTORY_JSON)
    if uri("Model"):
        facts.privacy = _json(uri("Model"), PRIVACY_JSON)
        facts.training = _json(uri("Model"), TRAINING_JSON)
        facts.ledger = _json(uri("Model"), LEDGER_JSON)
    if facts.prop("PushedModel", "pushed") == 1:
        facts.card = _json(facts.prop("PushedModel", "pushed_destination"), CARD_JSON)
    return facts
