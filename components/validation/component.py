"""`AnomalyGate`: fails the run when ExampleValidator found anomalies, or DistributionValidator
found drift or skew beyond the configured thresholds (TFX only records them).

Transform runs after it (pipeline/pipeline.py), so no anomalous data is transformed or trained
on. The error names each feature, the anomaly and the schema entry or threshold to relax
(anomalies.py).
"""
import json

from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.validation import anomalies as anomalies_lib

ExampleAnomalies = tfx.types.standard_artifacts.ExampleAnomalies


def _comparison_lines(artifact, check: str, thresholds) -> list:
    if artifact is None:
        return []
    pairs = artifact_utils.decode_split_names(artifact.split_names)  # none: no baseline yet
    return anomalies_lib.describe_comparisons(
        anomalies_lib.read(artifact.uri, pairs, anomalies_lib.SPLIT_PAIR_DIR), check,
        thresholds.get(check, {}))


@tfx.dsl.components.component
def AnomalyGate(  # noqa: N802 (the component's name)
        anomalies: tfx.dsl.components.InputArtifact[ExampleAnomalies],
        schema_file: tfx.dsl.components.Parameter[str],
        checks_file: tfx.dsl.components.Parameter[str],
        thresholds_json: tfx.dsl.components.Parameter[str] = "{}",
        drift_anomalies: tfx.dsl.components.InputArtifact[ExampleAnomalies] = None,
        skew_anomalies: tfx.dsl.components.InputArtifact[ExampleAnomalies] = None) -> None:
    """Raises DataAnomaliesError if any split of `anomalies` has an anomaly, or any split pair
    of `drift_anomalies` / `skew_anomalies` (thresholds_json: {'drift': .., 'skew': ..})."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    thresholds = json.loads(thresholds_json)
    anomalies_lib.check(anomalies_lib.read(anomalies.uri, splits), schema_file, checks_file,
                        _comparison_lines(drift_anomalies, "drift", thresholds)
                        + _comparison_lines(skew_anomalies, "skew", thresholds))
