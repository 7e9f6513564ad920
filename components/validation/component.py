"""`AnomalyGate`: fails the run when ExampleValidator found anomalies (TFX only records them).

Transform runs after it (pipeline/pipeline.py), so no anomalous data is transformed or trained
on. The error names each feature, the anomaly and the schema entry to relax (anomalies.py).
"""
from tfx import v1 as tfx
from tfx.types import artifact_utils

from components.validation import anomalies as anomalies_lib


@tfx.dsl.components.component
def AnomalyGate(  # noqa: N802 (the component's name)
        anomalies: tfx.dsl.components.InputArtifact[
            tfx.types.standard_artifacts.ExampleAnomalies],
        schema_file: tfx.dsl.components.Parameter[str],
        checks_file: tfx.dsl.components.Parameter[str]) -> None:
    """Raises DataAnomaliesError if any split of `anomalies` has an anomaly."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    anomalies_lib.check(anomalies_lib.read(anomalies.uri, splits), schema_file, checks_file)
