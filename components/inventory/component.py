"""`DataInventory`: the data asset inventory of a run, built after masking.

Inputs: the masked Examples (span, lineage properties), StatisticsGen's statistics (TFDV
figures per column) and MaskingExampleGen's masking report (each column's policy role).
Output: a `privrec.DataInventory` artifact holding inventory.json and inventory.html.
"""
from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import component_spec, standard_artifacts

from components.inventory import executor, files
from components.masking.component import MaskingReport


class DataInventoryArtifact(types.Artifact):
    """Per-run data asset inventory (JSON + HTML): per-column figures, associations,
    freshness, lineage."""
    TYPE_NAME = files.TYPE_NAME


class DataInventorySpec(types.ComponentSpec):
    PARAMETERS = {
        executor.MAX_CATEGORIES: component_spec.ExecutionParameter(type=int),
        executor.TOP_VALUES: component_spec.ExecutionParameter(type=int),
        executor.MIN_VALUE_COUNT: component_spec.ExecutionParameter(type=int),
    }
    INPUTS = {
        executor.EXAMPLES: component_spec.ChannelParameter(type=standard_artifacts.Examples),
        executor.STATISTICS: component_spec.ChannelParameter(
            type=standard_artifacts.ExampleStatistics),
        executor.MASKING_REPORT: component_spec.ChannelParameter(type=MaskingReport),
    }
    OUTPUTS = {executor.INVENTORY: component_spec.ChannelParameter(type=DataInventoryArtifact)}


class DataInventory(base_beam_component.BaseBeamComponent):
    """Builds the run's data asset inventory (see components/inventory/executor.py)."""

    SPEC_CLASS = DataInventorySpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples, statistics, masking_report, max_categories: int,
                 top_values: int, min_value_count: int):
        super().__init__(spec=DataInventorySpec(
            examples=examples, statistics=statistics, masking_report=masking_report,
            max_categories=max_categories, top_values=top_values,
            min_value_count=min_value_count,
            inventory=types.Channel(type=DataInventoryArtifact)))
