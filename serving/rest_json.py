"""TF Serving's JSON encoding of Predict requests and responses, with limits a hostile body cannot
get past: depth (checked before anything recurses over the value), element count, and binary
values as `{"b64": "..."}` in both directions."""
import base64
import binascii
import json
from typing import Any, Dict, List, Tuple

import numpy as np

MAX_DEPTH = 32  # numpy's own limit on dimensions; a Predict value needs far fewer


class JsonError(ValueError):
    """The body is not acceptable JSON (HTTP 400)."""


def parse(body: bytes, max_elements: int) -> Dict[str, Any]:
    """The body as a JSON object, refused if malformed, nested deeper than MAX_DEPTH or holding
    more than `max_elements` values."""
    try:
        value = json.loads(body or b"null")
    except RecursionError:  # the C parser's own limit, far below what would hurt
        raise JsonError(f"the JSON body is nested too deeply; at most {MAX_DEPTH} levels")
    except (ValueError, UnicodeDecodeError) as error:
        raise JsonError(f"the body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise JsonError("the body must be a JSON object")
    _check_shape(value, max_elements)
    return value


def _check_shape(value: Any, max_elements: int) -> None:
    """Depth and element count, iteratively (no recursion a deep value could exhaust)."""
    stack: List[Tuple[Any, int]] = [(value, 1)]
    elements = 0
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise JsonError(f"the JSON body is nested more than {MAX_DEPTH} levels deep")
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else ()
        for child in children:
            elements += 1
            if elements > max_elements:
                raise JsonError(f"the JSON body holds more than {max_elements} values, this "
                                "server's limit")
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def decode_binary(value: Any) -> Any:
    """`{"b64": "..."}` anywhere in a value -> bytes (depth already checked by `parse`)."""
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise JsonError('an object inside a value must be {"b64": "<base64 string>"}')
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise JsonError(f"invalid base64 in a b64 value: {error}") from None
    if isinstance(value, list):
        return [decode_binary(v) for v in value]
    return value


def columns(body: Dict) -> Tuple[Dict[str, Any], bool]:
    """(inputs by name, row format?) from a predict body in either of TF Serving's formats."""
    if ("instances" in body) == ("inputs" in body):
        raise JsonError("the body needs exactly one of 'instances' (row format) or 'inputs' "
                        "(columnar format)")
    if "inputs" in body:
        if not isinstance(body["inputs"], dict):
            raise JsonError("'inputs' must map input names to values")
        return {name: decode_binary(v) for name, v in body["inputs"].items()}, False
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise JsonError("'instances' must be a non-empty list")
    if not all(isinstance(i, dict) and "b64" not in i for i in instances):
        raise JsonError("each instance must be an object of named inputs")
    names = set(instances[0])
    for row, instance in enumerate(instances):
        if set(instance) != names:
            raise JsonError(f"instance {row} has inputs {sorted(instance)}, instance 0 has "
                            f"{sorted(names)}")
    return {name: [decode_binary(instance[name]) for instance in instances]
            for name in names}, True


def encode(value):
    """numpy -> JSON: bytes as UTF-8 text, or {"b64": …} when they are not text (TF Serving)."""
    if isinstance(value, np.ndarray):
        return [encode(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode()}
    return value.item() if isinstance(value, np.generic) else value


def predict_response(outputs: Dict[str, np.ndarray], row_format: bool) -> Dict:
    outputs = {k: encode(v) for k, v in outputs.items()}
    if not row_format:
        return {"outputs": outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    names = sorted(outputs)
    return {"predictions": [dict(zip(names, values))
                            for values in zip(*(outputs[n] for n in names))]}
