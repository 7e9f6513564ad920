"""settings.py: the component's exec properties resolve into one checked Settings, and a run
that cannot go on is refused before Beam starts, naming what to change."""
import dataclasses
import os

import pytest
from tfx.utils import proto_utils

from components.masking import malformed, pseudonymizer, settings
from components.masking import policy as policy_lib
from components.masking.component import MaskingExampleGen
from privrec.data import generator, schema

TINY = policy_lib.load(policy_lib.TINY_POLICY)


def _exec_properties(input_base, policy=TINY, buckets=(9, 1), fingerprint="",
                     windows=None):
    component = MaskingExampleGen(input_base, policy, buckets, allow_dev_key=True,
                                  key_fingerprint=fingerprint,
                                  time_windows=windows or {"0": list(generator.TIME_WINDOW)})
    return {name: proto_utils.proto_to_json(value) if hasattr(value, "DESCRIPTOR") else value
            for name, value in component.exec_properties.items() if value is not None}


@pytest.fixture
def input_base(tmp_path):
    rows = generator.generate(generator.SIZES["tiny"])["interactions"][:3]
    generator.write_csv(str(tmp_path / "data.csv"), rows, schema.INTERACTION_COLUMNS)
    return str(tmp_path)


def test_the_component_exec_properties_resolve_to_policy_key_files_splits_window(
        input_base, monkeypatch):
    monkeypatch.delenv(pseudonymizer.KEY_ENV, raising=False)
    run = settings.resolve(_exec_properties(input_base, windows={"*": [10, 20]}))
    assert run.policy.sha256 == TINY.sha256
    assert run.key.fingerprint == pseudonymizer.DEV_KEY_FINGERPRINT
    assert run.files == [os.path.join(input_base, "data.csv")]
    assert run.split_names == ["train", "eval"] and run.window == (10, 20)
    assert (run.span, run.version) == (0, 0)


def test_a_run_that_cannot_go_on_is_refused_naming_what_to_change(input_base, monkeypatch):
    monkeypatch.delenv(pseudonymizer.KEY_ENV, raising=False)
    with pytest.raises(pseudonymizer.MissingKeyError, match="built for pseudonym key other"):
        settings.resolve(_exec_properties(input_base, fingerprint="other"))
    with pytest.raises(malformed.InputDataError, match="no public time window"):
        settings.resolve(_exec_properties(input_base, windows={"1": [0, 10]}))
    headers_only = os.path.join(input_base, "empty")
    generator.write_csv(os.path.join(headers_only, "data.csv"), [], schema.INTERACTION_COLUMNS)
    with pytest.raises(malformed.InputDataError, match="only header rows"):
        settings.resolve(_exec_properties(headers_only))
    properties = _exec_properties(input_base)
    del properties["custom_config"]
    with pytest.raises(policy_lib.PolicyError, match="no masking policy"):
        settings.resolve(properties)


def test_policies_the_executor_cannot_run_are_refused():
    columns = dict(TINY.columns)
    columns[schema.TIMESTAMP] = dataclasses.replace(columns[schema.TIMESTAMP], params={
        "method": "year_band", "width": 1})
    with pytest.raises(policy_lib.PolicyError, match="must be a quasi_identifier with "
                                                     "generalize method truncate_time"):
        settings.check_policy(dataclasses.replace(TINY, columns=columns))
    k_rule = dataclasses.replace(TINY.k_anonymity, quasi_identifiers=(
        *TINY.k_anonymity.quasi_identifiers, schema.TIMESTAMP))
    with pytest.raises(policy_lib.PolicyError, match=r"\['timestamp'\] are released as numbers"):
        settings.check_policy(dataclasses.replace(TINY, k_anonymity=k_rule))
    settings.check_policy(TINY)
