"""Reads what the latest run produced from MLMD: metrics, blessing, push, privacy report."""
import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.masking import cleaning, report
from components.masking.component import MaskingReport
from components.model_card.evaluation import candidate_metrics
from pipeline import configs
from privrec.privacy.report import prior_use_text
from trainer import export


@dataclasses.dataclass
class RunSummary:
    pipeline_root: str
    metrics: Dict[str, float]
    blessed: bool
    pushed: bool
    pushed_version: Optional[str]
    pushed_destination: Optional[str]
    privacy: Dict
    masking: Dict                  # the masking report (components/masking/report.py)
    gate_failures: List[str]       # the Evaluator's failed thresholds, one line each
    training: Dict                 # trainer/export.py training summary (not pushed)

    def lines(self):
        yield f"pipeline root : {self.pipeline_root}"
        yield from metric_lines(self.metrics)
        runs = self.privacy.get("runs") or ()
        yield (f"privacy       : ε = {self.privacy['epsilon']:.3f} at δ = "
               f"{self.privacy['delta']:.2e} ("
               + (f"composed over {len(runs)} DP runs, this one ε = "
                  f"{self.privacy['epsilon_this_run']:.3f}; " if len(runs) > 1 else "")
               + f"{self.privacy['privacy_unit']}; "
               f"{self.privacy['accountant']}"
               + (f"; noise multiplier {self.privacy['noise_multiplier']:.3f} calibrated to "
                  f"target ε {self.privacy['target_epsilon']}"
                  if self.privacy.get("target_epsilon") is not None else "")
               + (f"; with a popularity prior released at noise multiplier "
                  f"{self.privacy['popularity_noise_multiplier']:.3g}"
                  if self.privacy.get("popularity_noise_multiplier") is not None else "") + ")")
        uses = prior_use_text(self.privacy.get("prior_uses"))
        if uses:
            yield f"prior's counts: {uses} (post-processing of the released prior: no ε)"
        yield ("ε covers      : the trained weights and what is computed from them alone (the "
               "served answers, the released model card); not the Evaluator's metrics")
        if self.privacy.get("randomness"):
            yield f"DP randomness : {self.privacy['randomness']}"
        noise = self.training.get("noise_norm_over_clip")
        if noise is not None:
            yield (f"DP noise      : {noise:.2f}× the clip norm per step (σ·√trainable values / "
                   "users per step)" + ("; above 1 each step is mostly noise: more users per "
                                        "step or more users lower it" if noise > 1 else ""))
        k = self.masking.get("k_anonymity") or {}
        yield (f"masking       : policy {self.masking['policy_version']}, "
               f"{self.masking['rows_in']} rows in, {self.masking['rows_out']} out "
               f"({k.get('rows_with_suppressed_quasi_identifiers', 0)} with quasi-identifiers "
               "suppressed"
               + (f"; k >= {k['min_k_released']} over {', '.join(k['quasi_identifiers'])}"
                  if k else "") + ")")
        local = {c: col for c, col in self.masking.get("columns", {}).items()
                 if "epsilon_per_user" in col}
        if local:
            yield "local DP      : " + "; ".join(
                f"{c} ε {col['epsilon_per_user']} per user" if col.get("unit") == "user" else
                f"{c} ε {col['epsilon']:g} per row ({col['epsilon_per_user']})"
                for c, col in sorted(local.items()))
        cleaned = self.masking.get("cleaning")
        if cleaned:
            yield (f"cleaning      : {cleaned['rows_removed']} of {cleaned['rows_read']} raw rows "
                   "removed (" + ", ".join(f"{rule} {n}" for rule, _, n in
                                           cleaning.lines(cleaned)) + ")")
        yield f"blessed       : {'yes' if self.blessed else 'no'}"
        for failure in self.gate_failures:
            yield f"  gate failed : {failure}"
        yield (f"pushed        : version {self.pushed_version} -> {self.pushed_destination}"
               if self.pushed else "pushed        : no (model not blessed)")


def metric_lines(metrics: Dict[str, float]):
    """One line per metric family, e.g. 'eval recall    : @10 0.3237, @50 0.5487, @100 0.6765'."""
    families: Dict[str, list] = {}
    for name, value in metrics.items():
        family, _, k = name.partition("_at_")
        families.setdefault(family, []).append((int(k) if k.isdigit() else 0, k, value))
    for family, values in sorted(families.items()):
        yield f"eval {family:<9}: " + ", ".join(
            f"@{k} {value:.4f}" if k else f"{value:.4f}" for _, k, value in sorted(values))


def latest(store: mlmd.MetadataStore, type_name: str):
    artifacts = store.get_artifacts_by_type(type_name)
    if not artifacts:
        raise LookupError(f"no {type_name} artifact in MLMD: did the pipeline run?")
    return max(artifacts, key=lambda a: a.id)


def _property(artifact, name: str):
    value = artifact.custom_properties.get(name)
    if value is None:
        return None
    return value.string_value or value.int_value


@dataclasses.dataclass(frozen=True)
class GateFailure:
    """One threshold of the Evaluator's validation that the candidate failed."""
    metric: str       # e.g. 'privacy_epsilon'
    is_diff: bool     # a change-vs-baseline threshold, not one on the value itself
    model: str        # 'candidate', or the model whose value failed
    value: float
    threshold: str    # the threshold proto on one line

    def line(self) -> str:
        """E.g. 'privacy_epsilon value = 3.87 (candidate); threshold: value_threshold {
        upper_bound { value: 1.0 } }' (on one line)."""
        which = "change vs. last blessed" if self.is_diff else "value"
        return (f"{self.metric} {which} = {self.value:.4g} ({self.model}); threshold: "
                f"{self.threshold}")


def gate_failures(evaluation_uri: str) -> List[GateFailure]:
    """The failed thresholds of a ModelEvaluation artifact (TFMA's validation result)."""
    result = tfma.load_validation_result(evaluation_uri)
    return [GateFailure(metric=failure.metric_key.name, is_diff=failure.metric_key.is_diff,
                        model=failure.metric_key.model_name or "candidate",
                        value=failure.metric_value.double_value.value,
                        threshold=" ".join(str(failure.metric_threshold).split()))
            for per_slice in result.metric_validations_per_slice
            for failure in per_slice.failures]


def read(config: configs.PipelineConfig) -> RunSummary:
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    store = mlmd.MetadataStore(connection)
    evaluation = latest(store, "ModelEvaluation")
    metrics = candidate_metrics(evaluation.uri)
    blessing = latest(store, "ModelBlessing")
    pushed = latest(store, "PushedModel")
    model = latest(store, "Model")
    return RunSummary(
        pipeline_root=config.pipeline_root, metrics=metrics,
        blessed=_property(blessing, "blessed") == 1,
        pushed=_property(pushed, "pushed") == 1,
        pushed_version=_property(pushed, "pushed_version"),
        pushed_destination=_property(pushed, "pushed_destination"),
        privacy=export.read_privacy_report(os.path.join(model.uri, "Format-Serving")),
        training=export.read_training_summary(os.path.join(model.uri, "Format-Serving")),
        masking=report.read(latest(store, MaskingReport.TYPE_NAME).uri),
        gate_failures=[failure.line() for failure in gate_failures(evaluation.uri)])
