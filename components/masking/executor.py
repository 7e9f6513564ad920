"""ExampleGen executor that masks while it ingests: raw PII never reaches the pipeline root.

It reads the interaction CSVs, checks every file's columns against the masking policy and every
row against its column rules (errors name file, line and column, never a raw PII value), masks
with `MaskInteractions` after the cleaning rules (cleaning.py: duplicates, out-of-range
timestamps, bot-like users; counted per rule), suppresses the quasi-identifier cells of
equivalence classes below k_min (reidentification.py), splits train/eval by time, flags
examples whose item has no interaction in the training split (`cold_start_item`, the
Evaluator's cold-start slice) and writes the masking report (JSON + HTML). A run whose cleaning
or suppression exceeds the policy's budget fails after writing the report (MLMD marks it
failed: nothing is published).

Neighbouring data sets: adding or removing one user must not change any other user's training
rows (the assumption user-level DP-SGD's guarantee rests on). So every rule that decides a
row's fate is per row or per user with fixed settings: the split cuts a *public* time window
(the data set's declared period, privrec/data/time_window.py; a row outside it goes to the
first or the last split, counted in the report), never the data's own first and last
timestamps; k-anonymity suppresses cells, never rows; the cleaning rules are per row or per
user. Two figures still depend on other users, and neither reaches a training feature: the
suppressed quasi-identifier values (Transform drops them) and `cold_start_item`, which is 0 on
every training row by construction and only labels eval rows.

Memory does not grow with the rows on the in-memory DirectRunner, which holds every PCollection
that crosses a Beam stage boundary: the input is read three times instead of held. The first
read keeps only the cleaning figures (cleaning.py), the second only the k-anonymity class sizes,
each item's first released time and the rows outside the window from the deterministic
released columns (ReleasedColumns), and the third cleans, masks, suppresses, splits and
serializes in one fused stage, which is written without TFX's shuffle on runners whose shuffles
do not spill (`shuffles_spill`).
"""
import csv
import json
import os
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence

import apache_beam as beam
from absl import logging
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.masking import cleaning, malformed
from components.masking import policy as policy_lib
from components.masking import pseudonymizer, reidentification, report
from components.masking.ptransform import MaskInteractions, ReleasedColumns, to_example
from privrec import beam_dependencies
from privrec.data import schema, sources, time_window

ALLOW_DEV_KEY = "allow_dev_key"
POLICY_JSON = "masking_policy_json"
REPORT_KEY = "masking_report"
KEY_FINGERPRINT = "pseudonym_key_fingerprint"
TIME_WINDOWS = "time_windows"
ANY_SPAN = "*"


InputDataError = malformed.InputDataError


class ReidentificationRiskError(RuntimeError):
    """Raised when k-anonymity would suppress more rows than the policy allows."""


class CleaningBudgetError(RuntimeError):
    """Raised when the cleaning rules would remove more rows than the policy allows."""


def shuffles_spill(beam_pipeline_args) -> bool:
    """Whether the Beam runner's shuffles spill to disk and spread work over workers (Dataflow,
    Flink, Spark...), not the DirectRunner's, which holds a shuffled PCollection in memory."""
    return not beam_dependencies.runs_locally(beam_pipeline_args)


def input_files(input_base: str, pattern: str):
    files = sources.match(input_base, pattern)
    if not files:
        raise InputDataError(f"no input files match {os.path.join(input_base, pattern)}")
    return files


def check_header(path: str, policy: policy_lib.MaskingPolicy) -> bool:
    """Fails fast, before Beam starts, when a file's columns are not the policy's; returns
    whether the file has a row after its header."""
    with sources.open_text(path) as f:
        with malformed.named_errors(path):
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise InputDataError(f"{path}: the file is empty; expected a header row with "
                                     f"columns {', '.join(policy.columns)}")
            policy.check_header(path, header)
            return next(reader, None) is not None


_YEAR = re.compile(r"\d{4}(-\d{1,2}-\d{1,2})?")


def _row_problem(rule: policy_lib.ColumnRule, value: str):
    """What is wrong with one value under its column rule (None if fine); never echoes PII."""
    method = rule.params.get("method")
    if method == "truncate_time" and not value.strip().lstrip("-").isdigit():
        return f"{value[:30]!r} is not an integer Unix time in seconds; fix the row or convert " \
               "the column"
    if method == "year_band" and value and not _YEAR.fullmatch(value.strip()):
        return "is not a date (YYYY-MM-DD) or a year; fix the row or leave it empty"
    if method in ("laplace", "gaussian", "bucket") and value.strip():
        try:
            float(value)
        except ValueError:
            return "is not a number; fix the row or leave it empty"
    if method == "randomized_response" and value not in [str(d) for d in rule.params["domain"]]:
        return (f"is not one of the policy's domain values {list(rule.params['domain'])}; fix "
                "the row or extend the domain in the masking policy")
    return None


def read_rows(path: str, policy: policy_lib.MaskingPolicy) -> Iterable[Dict[str, str]]:
    """Yields the rows of one file, each checked against the policy's column rules."""
    checked = [rule for rule in policy.columns.values() if rule.params]
    text_columns = [rule.column for rule in policy.with_role(policy_lib.FREE_TEXT)]
    with sources.open_text(path) as f, malformed.named_errors(path):
        reader = csv.DictReader(f)
        first_line = 2
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            malformed.check_fields(path, first_line, reader.line_num, row, reader.fieldnames,
                                   text_columns)
            first_line = reader.line_num + 1
            for rule in checked:
                problem = _row_problem(rule, row[rule.column])
                if problem:
                    raise InputDataError(f"{where}, column '{rule.column}': {problem}")
            if not row[schema.ITEM_ID].strip():
                raise InputDataError(f"{where}, column '{schema.ITEM_ID}': empty; every "
                                     "interaction needs the item it was with")
            yield row


def read_located_rows(indexed_path, policy: policy_lib.MaskingPolicy):
    """(file index, path) -> ((file index, row number), row) for each checked row."""
    index, path = indexed_path
    for number, row in enumerate(read_rows(path, policy)):
        yield (index, number), row


def io_configs(exec_properties: Dict[str, Any]):
    """The component's input and output configs (example_gen_pb2.Input, Output)."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    return input_config, output_config


def _custom_settings(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    settings = struct_pb2.Struct()
    if raw:
        custom_config = example_gen_pb2.CustomConfig()
        proto_utils.json_to_proto(raw, custom_config)
        if custom_config.custom_config.Is(struct_pb2.Struct.DESCRIPTOR):
            custom_config.custom_config.Unpack(settings)
    return json_format.MessageToDict(settings)


def make_custom_config(allow_dev_key: bool, policy: policy_lib.MaskingPolicy,
                       key_fingerprint: str = "",
                       time_windows: Optional[Dict[str, Sequence[int]]] = None
                       ) -> example_gen_pb2.CustomConfig:
    """The executor's settings; the resolved policy travels (and is recorded in MLMD) as JSON.
    key_fingerprint (set when the pipeline caches): the pseudonym key the run must use, so a
    new key is a new cache key and a cached output never carries another key's pseudonyms.
    time_windows: {span ("0" without spans, "*" any span): [start, end)} public Unix seconds
    the split cuts (PipelineConfig.time_windows); a new window is a new cache key."""
    settings = struct_pb2.Struct()
    settings.update({ALLOW_DEV_KEY: allow_dev_key, POLICY_JSON: json.dumps(policy.source),
                     TIME_WINDOWS: json.dumps(time_windows or {})})
    if key_fingerprint:
        settings.update({KEY_FINGERPRINT: key_fingerprint})
    custom_config = example_gen_pb2.CustomConfig()
    custom_config.custom_config.Pack(settings)
    return custom_config


def source_files(files) -> str:
    """The input files as JSON lineage: base name, size and SHA-256 (never their contents)."""
    entries = []
    for path in files:
        sha256, size = sources.digest(path)
        entries.append({"name": os.path.basename(path), "bytes": size, "sha256": sha256})
    return json.dumps(entries)


def split_window(exec_properties: Dict[str, Any], settings: Dict[str, Any],
                 input_base: str) -> time_window.TimeWindow:
    """The public time window this run's split cuts: its span's declared window, or the one
    given for every span; refuses a run without one, naming where to declare it."""
    span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) or 0
    windows = json.loads(settings.get(TIME_WINDOWS) or "{}")
    window = windows.get(str(span), windows.get(ANY_SPAN))
    if window is None:
        where = f"the span-{span} folder" if span else input_base
        raise InputDataError(
            f"{input_base}{f' (span {span})' if span else ''}: no public time window is declared "
            "for the interactions. The train/eval split is cut at shares of the period the data "
            "covers, never at its own first and last timestamps (one user could move every "
            "user's split). Declare it: `privrec run --time-window START,END` "
            "(PipelineConfig.time_window), or a time_window.json file "
            f'({{"start": <Unix s>, "end": <Unix s>}}) in {where} (privrec/data/time_window.py)')
    return time_window.checked(*window, f"custom_config {TIME_WINDOWS}[{span}]")


def upper_shares_of(splits) -> List[float]:
    """Each output split's upper bound as a share of the window (hash_buckets are shares)."""
    total = sum(s.hash_buckets for s in splits)
    return [sum(s.hash_buckets for s in splits[:i + 1]) / total for i in range(len(splits))]


def split_index(timestamp: int, window, upper_shares) -> int:
    """The output split of a released timestamp: splits are consecutive shares of the public
    window; a timestamp before it goes to the first split, one at or after its end to the last
    (a rule of the row alone)."""
    start, end = window
    share = (timestamp - start) / max(end - start, 1)
    n = len(upper_shares)
    return next(i for i, upper in enumerate(upper_shares) if share < upper or i == n - 1)


def cut_offs(window, upper_shares) -> List[int]:
    """The Unix times where one split ends and the next begins (for the report)."""
    start, end = window
    return [int(start + upper * (end - start)) for upper in upper_shares[:-1]]


def window_side(timestamp: int, window) -> str:
    """'before', 'after' or 'inside' the window [start, end)."""
    start, end = window
    return "before" if timestamp < start else "after" if timestamp >= end else "inside"


def check_suppressible(rule, policy: policy_lib.MaskingPolicy) -> None:
    """Cell suppression writes "*" into the quasi-identifiers: each must be released as text."""
    numeric = [c for c in rule.quasi_identifiers
               if policy.columns[c].params.get("method") == "truncate_time"]
    if numeric:
        raise policy_lib.PolicyError(
            f"masking policy {policy.version}: k_anonymity quasi_identifiers {numeric} are "
            "released as numbers (truncate_time), so their cells cannot be suppressed with "
            f"{reidentification.SUPPRESSED.decode()!r}; list only text quasi-identifiers "
            "(year_band, map, prefix, bucket, as_is)")


def user_column(policy: policy_lib.MaskingPolicy):
    pseudonymized = [r.column for r in policy.columns.values() if r.action == "pseudonymize"]
    return schema.USER_ID if schema.USER_ID in pseudonymized else None


def flag_cold_start(row: Dict, trained_items) -> Dict:
    """Adds `cold_start_item`: 1 when the row's item has no interaction in the training split."""
    return {**row, schema.COLD_START_ITEM: int(row[schema.ITEM_ID] not in trained_items)}


TIME_SPLIT = "time_split"


def time_split_figures(window, splits, upper_shares, outside_rows: Dict[str, int]) -> Dict:
    """The masking report's `time_split` section: the public window, the cut-off times and the
    rows outside the window (each went to the first or the last split, never dropped)."""
    return {"window": list(window),
            "cut_offs": {f"{a.name}|{b.name}": t for a, b, t in zip(
                splits, splits[1:], cut_offs(window, upper_shares))},
            "rows_before_window": outside_rows.get("before", 0),
            "rows_after_window": outside_rows.get("after", 0),
            "outside_rows": f"before the window: in split {splits[0].name}; at or after its "
                            f"end: in split {splits[-1].name}"}


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Masking ExampleGen executor (see module docstring)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("GenerateExamplesByBeam is overridden: splits are by time")

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, beam.PCollection]:
        input_config, output_config = io_configs(exec_properties)
        splits = list(output_config.split_config.splits)
        if len(input_config.splits) != 1 or len(splits) < 2:
            raise ValueError("the masking ExampleGen takes one input split and >= 2 output "
                             "splits (e.g. train 9, eval 1 buckets = shares of the time window)")
        settings = _custom_settings(exec_properties)
        if POLICY_JSON not in settings:
            raise policy_lib.PolicyError("no masking policy in the component's custom_config")
        policy = policy_lib.from_dict(json.loads(settings[POLICY_JSON]))
        timestamp_rule = policy.columns.get(schema.TIMESTAMP)
        if not timestamp_rule or timestamp_rule.params.get("method") != "truncate_time":
            raise policy_lib.PolicyError(
                f"masking policy {policy.version}: column '{schema.TIMESTAMP}' must be a "
                "quasi_identifier with generalize method truncate_time (seconds: 1 keeps it)")
        files = input_files(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                            input_config.splits[0].pattern)
        if not [path for path in files if check_header(path, policy)]:
            raise InputDataError(f"{', '.join(files)}: only header rows, no interactions; "
                                 "nothing to train on (add data, or check the input pattern)")
        key = pseudonymizer.load_key(bool(settings.get(ALLOW_DEV_KEY, False)))
        if settings.get(KEY_FINGERPRINT, key.fingerprint) != key.fingerprint:
            raise pseudonymizer.MissingKeyError(
                f"the pipeline was built for pseudonym key {settings[KEY_FINGERPRINT]} but this "
                f"run loaded key {key.fingerprint}: build and run the pipeline with one key")
        logging.info("Masking %d file(s) under policy %s; pseudonym key fingerprint %s",
                     len(files), policy.version, key.fingerprint)
        self._key_fingerprint = key.fingerprint
        self._policy = policy
        self._source_files = source_files(files)

        user, k_rule = user_column(policy), policy.k_anonymity
        if k_rule:
            check_suppressible(k_rule, policy)
        window = split_window(exec_properties,
                              settings, exec_properties[standard_component_specs.INPUT_BASE_KEY])
        upper_shares = upper_shares_of(splits)
        salt = cleaning.new_salt()
        indexed_files = list(enumerate(files))

        def read(label):  # each pass reads the files again: the rows are never held
            return (pipeline | f"Files[{label}]" >> beam.Create(indexed_files)
                    | f"ReadAndValidate[{label}]" >> beam.FlatMap(read_located_rows, policy))

        cleaning_figures = None
        if policy.cleaning:  # raw rows, before masking (cleaning.py says why)
            cleaning_figures = read("cleaning") | "CleaningFigures" >> cleaning.CleaningFigures(
                policy.cleaning, user, salt)

        def clean_rows(label):
            located = read(label)
            if cleaning_figures is not None:
                located = located | f"Clean[{label}]" >> cleaning.KeepClean(
                    policy.cleaning, user, salt, cleaning_figures)
            return located | f"Rows[{label}]" >> beam.Values()

        # Figures pass: class sizes, each item's first time and the rows outside the window,
        # from the deterministic released columns (the masked rows will carry the same values).
        class_columns = list(k_rule.quasi_identifiers) if k_rule else []
        columns = list(dict.fromkeys(class_columns + [schema.TIMESTAMP, schema.ITEM_ID]
                                     + ([user] if user and k_rule else [])))
        released_columns = clean_rows("figures") | "ReleasedColumns" >> ReleasedColumns(
            policy, key, columns)
        small, sizes = {}, None
        if k_rule:
            sizes = released_columns | "ClassSizes" >> reidentification.ClassSizes(k_rule, user)
            small = reidentification.small_classes(sizes, k_rule)
        outside = (released_columns
                   | "WindowSide" >> beam.Map(lambda r: window_side(r[schema.TIMESTAMP], window))
                   | "Outside" >> beam.Filter(lambda side: side != "inside")
                   | "RowsOutside" >> beam.combiners.Count.PerElement()
                   | "OutsideDict" >> beam.combiners.ToDict())
        # Items with an interaction in the training split: every training row's item is one of
        # them (cold_start_item 0), so the set changes only other users' *eval* flags.
        trained_items = beam.pvalue.AsSingleton(
            released_columns
            | "ItemTime" >> beam.Map(lambda r: (r[schema.ITEM_ID], r[schema.TIMESTAMP]))
            | "FirstTime" >> beam.CombinePerKey(min)
            | "TrainedItem" >> beam.Filter(
                lambda kv: split_index(kv[1], window, upper_shares) == 0)
            | "TrainItems" >> beam.Keys()
            | "TrainItemSet" >> beam.combiners.ToSet())

        # Output pass: clean, mask, suppress, split and serialize, one fused Beam stage (on
        # runners whose shuffles spill, rows are spread over workers before masking).
        rows = clean_rows("mask")
        if self._shuffle:
            rows = rows | "Reshuffle" >> beam.Reshuffle()
        masking = rows | "Mask" >> MaskInteractions(policy, key)
        masked, k_summary = masking["masked"], None
        if k_rule:
            masked = masked | "KAnonymity" >> reidentification.SuppressCells(k_rule, small)
            k_summary = ({"sizes": sizes,
                          "l": masked | "Diversity" >> reidentification.Diversity(k_rule)}
                         | "KAnonymitySummary" >> reidentification.Summarize(k_rule))
        parts = masked | "SplitByTime" >> beam.Partition(
            lambda row, n: split_index(row[schema.TIMESTAMP], window, upper_shares),
            len(splits))
        outputs, counts = {}, []
        for i, split in enumerate(splits):
            rows = parts[i] | f"ColdStart[{split.name}]" >> beam.Map(flag_cold_start,
                                                                    trained_items)
            outputs[split.name] = rows | f"Serialize[{split.name}]" >> beam.Map(to_example)
            counts.append(rows | f"Count[{split.name}]" >> beam.combiners.Count.Globally()
                          | f"Named[{split.name}]" >> beam.Map(lambda n, s=split.name: (s, n)))
        cleaning_counts = None
        if cleaning_figures is not None:
            cleaning_counts = cleaning_figures | "CleaningCounts" >> beam.Map(
                lambda figures: figures["counts"])
        split_rows = counts | "SplitCounts" >> beam.Flatten()
        report_dir = self._report_dir

        def write_report(stats, split_rows, k_figures, cleaning_counts, outside_rows):
            built = report.build(policy, key.fingerprint, stats, split_rows, k_figures,
                                 cleaning.summarize(cleaning_counts or {}, policy.cleaning))
            built[TIME_SPLIT] = time_split_figures(window, splits, upper_shares, outside_rows)
            report.write(built, report_dir)

        def side(pcoll):
            return beam.pvalue.AsSingleton(pcoll) if pcoll is not None else None

        (masking["stats"]
         | "WriteReport" >> beam.Map(write_report, split_rows=beam.pvalue.AsDict(split_rows),
                                     k_figures=side(k_summary),
                                     cleaning_counts=side(cleaning_counts),
                                     outside_rows=beam.pvalue.AsSingleton(outside)))
        return outputs

    def _write_examples(self, input_dict, output_dict, exec_properties) -> None:
        """BaseExampleGenExecutor.Do's output (gzipped TFRecords of tf.Examples per split, split
        names, payload and file format), except that TFX's WriteSplit shuffles every split
        (a Reshuffle): on a runner that holds shuffles in memory that alone held the whole
        output, ~1.7 KB per row. Here the examples are shuffled only where shuffles spill."""
        self._log_startup(input_dict, output_dict, exec_properties)
        input_config, output_config = io_configs(exec_properties)
        examples = output_dict[standard_component_specs.EXAMPLES_KEY]
        artifact_utils.get_single_instance(examples).split_names = (
            artifact_utils.encode_split_names(example_gen_utils.generate_output_split_names(
                input_config, output_config)))
        with self._make_beam_pipeline() as pipeline:
            for name, split in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
                if self._shuffle:
                    split = split | f"Shuffle[{name}]" >> beam.Reshuffle()
                _ = split | f"WriteSplit[{name}]" >> beam.io.WriteToTFRecord(
                    os.path.join(artifact_utils.get_split_uri(examples, name),
                                 write_split.DEFAULT_FILE_NAME), file_name_suffix=".gz")
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        for artifact in examples:
            if payload_format:
                examples_utils.set_payload_format(artifact, payload_format)
            if file_format:
                examples_utils.set_file_format(artifact,
                                               write_split.to_file_format_str(file_format))

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._report_dir = artifact_utils.get_single_uri(output_dict[REPORT_KEY])
        self._shuffle = shuffles_spill(self._beam_pipeline_args)
        self._write_examples(input_dict, output_dict, exec_properties)
        masking_report = report.read(self._report_dir)
        properties = {KEY_FINGERPRINT: self._key_fingerprint,
                      "masking_policy_version": self._policy.version,
                      "masking_policy_sha256": self._policy.sha256,
                      "source_files": self._source_files}
        for artifact in output_dict[standard_component_specs.EXAMPLES_KEY] + \
                output_dict[REPORT_KEY]:
            for name, value in properties.items():
                artifact.set_string_custom_property(name, value)
        for artifact in output_dict[standard_component_specs.EXAMPLES_KEY]:
            # The driver records span/version as custom properties only; TFX's span resolver
            # functions (rolling_range, pipeline/pipeline.py) read the artifact properties.
            artifact.span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME) or 0
            artifact.version = exec_properties.get(example_gen_utils.VERSION_PROPERTY_NAME) or 0
        cleaned = masking_report.get("cleaning")
        if cleaned and cleaned["budget_exceeded"]:
            raise CleaningBudgetError(
                f"cleaning: {cleaned['rows_removed']} of {cleaned['rows_read']} rows "
                f"({cleaned['removed_row_share']:.1%}) removed ("
                + ", ".join(f"{rule} {n}" for rule, _, n in cleaning.lines(cleaned))
                + f"); the policy allows {cleaned['max_removed_row_share']:.1%}. Fix the data "
                "upstream (a unit error, a re-sent file, a crawler), or change the cleaning "
                "settings or raise max_removed_row_share in the masking policy")
        k_figures = masking_report.get("k_anonymity")
        if k_figures and k_figures["budget_exceeded"]:
            raise ReidentificationRiskError(
                f"k-anonymity: {k_figures['rows_with_suppressed_quasi_identifiers']} of "
                f"{masking_report['rows_in']} rows ({k_figures['suppressed_row_share']:.1%}) are "
                f"in equivalence classes of fewer than k_min={k_figures['k_min']} users over "
                f"{', '.join(k_figures['quasi_identifiers'])}; the policy allows suppressing "
                f"the quasi-identifiers of {k_figures['max_suppressed_row_share']:.1%}. "
                "Generalise more (wider bands, coarser maps), lower k_min, or raise "
                "max_suppressed_row_share in the masking policy. Details: "
                f"{os.path.join(self._report_dir, report.HTML_FILE)}")
