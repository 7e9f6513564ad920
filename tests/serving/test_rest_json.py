"""serving/rest_json.py on its own: TF Serving's JSON formats both ways, and the limits a hostile
body meets before anything recurses over it (the REST tests cover it over real HTTP)."""
import base64
import json

import numpy as np
import pytest

from serving import rest_json


def test_row_and_columnar_bodies_give_the_same_inputs():
    rows = {"instances": [{"user_id": "u1", "k": 3}, {"user_id": {"b64": "dTI="}, "k": 4}]}
    columns = {"inputs": {"user_id": ["u1", {"b64": "dTI="}], "k": [3, 4]}}
    assert rest_json.columns(rows) == ({"user_id": ["u1", b"u2"], "k": [3, 4]}, True)
    assert rest_json.columns(columns) == ({"user_id": ["u1", b"u2"], "k": [3, 4]}, False)


@pytest.mark.parametrize("body, named", [
    ({}, "exactly one of 'instances'"),
    ({"instances": [], "inputs": {}}, "exactly one of 'instances'"),
    ({"inputs": [1]}, "'inputs' must map"),
    ({"instances": []}, "non-empty list"),
    ({"instances": [{"b64": "AA=="}]}, "object of named inputs"),
    ({"instances": [{"a": 1}, {"b": 1}]}, "instance 1 has inputs ['b'], instance 0 has ['a']"),
    ({"inputs": {"a": {"b64": "not base64!"}}}, "invalid base64"),
    ({"inputs": {"a": {"b64": "AA==", "x": 1}}}, '{"b64": "<base64 string>"}'),
])
def test_malformed_bodies_are_named(body, named):
    with pytest.raises(rest_json.JsonError) as error:
        rest_json.columns(body)
    assert named in str(error.value)


def test_depth_and_element_limits_are_checked_without_recursion():
    def nested(lists):  # the body object and "inputs" are 2 levels, then `lists` lists
        return json.dumps({"inputs": {"a": json.loads("[" * lists + "1" + "]" * lists)}})

    assert rest_json.parse(nested(rest_json.MAX_DEPTH - 2).encode(), 100)
    with pytest.raises(rest_json.JsonError, match=f"more than {rest_json.MAX_DEPTH} levels"):
        rest_json.parse(nested(rest_json.MAX_DEPTH - 1).encode(), 100)
    too_deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(rest_json.JsonError, match="nested"):
        rest_json.parse(too_deep, 10**9)
    # Every value counts: "inputs", "a" and the list's items.
    with pytest.raises(rest_json.JsonError, match="more than 6 values"):
        rest_json.parse(json.dumps({"inputs": {"a": list(range(5))}}).encode(), 6)
    assert rest_json.parse(json.dumps({"inputs": {"a": list(range(4))}}).encode(), 6)
    for bad, named in ((b"{", "not JSON"), (b"[1]", "JSON object"), (b"\xff", "not JSON")):
        with pytest.raises(rest_json.JsonError, match=named):
            rest_json.parse(bad, 10)


def test_responses_encode_text_as_text_and_other_bytes_as_b64():
    outputs = {"item_ids": np.array([b"p00001", b"\xff\xfe"]),
               "scores": np.array([0.5, 0.25], np.float32)}
    rows = rest_json.predict_response(outputs, row_format=True)
    assert rows == {"predictions": [
        {"item_ids": "p00001", "scores": 0.5},
        {"item_ids": {"b64": base64.b64encode(b"\xff\xfe").decode()}, "scores": 0.25}]}
    assert rest_json.predict_response({"scores": outputs["scores"]}, True) == {
        "predictions": [0.5, 0.25]}
    columnar = rest_json.predict_response(outputs, row_format=False)
    assert columnar["outputs"]["scores"] == [0.5, 0.25]
    assert json.loads(json.dumps(columnar)) == columnar
