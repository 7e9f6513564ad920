"""The masking policy: a versioned YAML file giving every input column a role and an action.

Roles and their actions:
  direct_identifier    action: drop | pseudonymize
  quasi_identifier     generalize: {method: year_band (width) | truncate_time (seconds) |
                                    prefix (length) | bucket (boundaries) |
                                    map (mapping, default) | as_is}
  sensitive_attribute  randomize: {method: randomized_response (epsilon, domain) |
                                   laplace (epsilon, lower, upper) |
                                   gaussian (epsilon, delta, lower, upper),
                                   unit: user | row, granularity}
                       `unit: user` (randomized_response's default, for attributes of the person
                       such as gender): one release per pseudonymous user, the same on all of
                       that user's rows, so ε is per user (randomize.py; needs exactly one
                       pseudonymised column, the user). `unit: row` (laplace's and gaussian's
                       only unit, for attributes of one interaction such as an order amount):
                       each row randomised on its own, so a user with n rows gets n·ε.
                       `granularity` (laplace, gaussian; default 0.01): the grid the value is
                       rounded to and the discrete noise lives on.
  free_text            action: scrub
  keep                 (behavioural columns released as they are: item ids, event types)
A policy may `extends:` another file in the same folder; its columns replace the parent's
column rules, its k_anonymity and cleaning keys replace the parent's keys.
`cleaning:` sets the cleaning rules run on the raw rows before masking (cleaning.py).
"""
import copy
import dataclasses
import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence

import yaml

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "policies")
DEFAULT_POLICY = os.path.join(POLICY_DIR, "default.yaml")
TINY_POLICY = os.path.join(POLICY_DIR, "tiny.yaml")
TINY_AUDIT_POLICY = os.path.join(POLICY_DIR, "tiny_audit.yaml")
MOVIELENS_POLICY = os.path.join(POLICY_DIR, "movielens.yaml")
MOVIELENS_1M_POLICY = os.path.join(POLICY_DIR, "movielens_1m.yaml")

DIRECT, QUASI, SENSITIVE, FREE_TEXT, KEEP = (
    "direct_identifier", "quasi_identifier", "sensitive_attribute", "free_text", "keep")
_ACTIONS = {DIRECT: ("drop", "pseudonymize"), FREE_TEXT: ("scrub",)}
_GENERALIZE = {"year_band": ("width",), "truncate_time": ("seconds",), "prefix": ("length",),
               "bucket": ("boundaries",), "map": ("mapping",), "as_is": ()}
_RANDOMIZE = {"randomized_response": ("epsilon", "domain"),
              "laplace": ("epsilon", "lower", "upper"),
              "gaussian": ("epsilon", "delta", "lower", "upper")}


class PolicyError(ValueError):
    """The policy file is invalid, or does not cover the input's columns."""


@dataclasses.dataclass(frozen=True)
class ColumnRule:
    column: str
    role: str
    action: str                       # drop | pseudonymize | generalize | randomize | scrub | keep
    params: Dict[str, Any]            # the generalize / randomize settings


@dataclasses.dataclass(frozen=True)
class KAnonymity:
    quasi_identifiers: Sequence[str]
    k_min: int
    max_suppressed_row_share: float
    sensitive_attributes: Sequence[str]


@dataclasses.dataclass(frozen=True)
class Cleaning:
    """Cleaning rules (components/masking/cleaning.py); None switches a rule off."""
    drop_exact_duplicates: bool
    timestamp_range: Optional[Sequence[int]]     # [first, last] allowed raw Unix seconds
    max_events_per_user_hour: Optional[int]      # more in any clock hour: a bot-like user
    max_removed_row_share: float                 # cleaning removing more fails the run


@dataclasses.dataclass(frozen=True)
class MaskingPolicy:
    version: str
    sha256: str                       # of the resolved policy, so runs can be compared
    columns: Dict[str, ColumnRule]    # in file order
    k_anonymity: Optional[KAnonymity]
    source: Dict[str, Any]            # the resolved policy as plain data (custom_config, report)
    cleaning: Optional[Cleaning] = None

    def with_role(self, role: str) -> List[ColumnRule]:
        return [rule for rule in self.columns.values() if rule.role == role]

    @property
    def user_column(self) -> Optional[str]:
        """The pseudonymised direct identifier (the user), if exactly one column is."""
        columns = [r.column for r in self.columns.values() if r.action == "pseudonymize"]
        return columns[0] if len(columns) == 1 else None

    def check_header(self, path: str, header: Sequence[str]) -> None:
        """Refuses files whose columns are not exactly the policy's (names the difference)."""
        missing = [c for c in self.columns if c not in header]
        unknown = [c for c in header if c not in self.columns]
        if unknown:
            raise PolicyError(
                f"{path}: column(s) {', '.join(unknown)} have no role in masking policy "
                f"{self.version}; give each a role (direct_identifier, quasi_identifier, "
                "sensitive_attribute, free_text or keep) in the policy file, or remove them, so "
                "that no column slips through unmasked")
        if missing:
            raise PolicyError(f"{path}: missing column(s) {', '.join(missing)}; masking policy "
                              f"{self.version} expects {', '.join(self.columns)}")


def _read_resolved(path: str, seen=()) -> Dict[str, Any]:
    if path in seen:
        raise PolicyError(f"{path}: `extends` loops back to itself")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a masking policy is a mapping with version, columns, ...")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    base = _read_resolved(os.path.join(os.path.dirname(path), parent), seen + (path,))
    merged = copy.deepcopy(base)
    merged["version"] = raw.get("version", base.get("version"))
    merged.setdefault("columns", {}).update(raw.get("columns", {}))
    for section in ("k_anonymity", "cleaning"):
        if section in raw:
            merged[section] = {**base.get(section, {}), **(raw[section] or {})}
    return merged


def _settings_problem(method: str, params: Dict[str, Any]) -> Optional[str]:
    """What is wrong with a method's settings (None if fine)."""
    if method == "bucket":
        bounds = params["boundaries"]
        if (not isinstance(bounds, list) or not bounds
                or not all(isinstance(b, (int, float)) for b in bounds)
                or sorted(set(bounds)) != bounds):
            return "boundaries must be a non-empty list of increasing numbers"
    if "lower" in params and not float(params["lower"]) < float(params["upper"]):
        return "lower must be below upper"
    if "delta" in params and not 0 < float(params["delta"]) < 1:
        return "delta must be in (0, 1)"
    if method in _RANDOMIZE:
        unit = params.get("unit", "user" if method == "randomized_response" else "row")
        if unit not in ("user", "row"):
            return "unit must be user or row"
        if unit == "user" and method != "randomized_response":
            return ("unit must be row: the same noise on every row of a user would release "
                    "the exact differences between that user's values")
    if "granularity" in params and not float(params["granularity"]) > 0:
        return "granularity must be > 0"
    return None


def _randomize_defaults(method: str, params: Dict[str, Any]) -> Dict[str, Any]:
    """The randomize settings with their defaults made explicit (the report shows them)."""
    params = dict(params)
    params.setdefault("unit", "user" if method == "randomized_response" else "row")
    if method in ("laplace", "gaussian"):
        params.setdefault("granularity", 0.01)
    return params


def _rule(column: str, spec: Any, where: str) -> ColumnRule:
    if not isinstance(spec, dict) or "role" not in spec:
        raise PolicyError(f"{where}, column '{column}': needs a `role`")
    role = spec["role"]
    if role in _ACTIONS:
        action = spec.get("action")
        if action not in _ACTIONS[role]:
            raise PolicyError(f"{where}, column '{column}': {role} needs `action` "
                              f"{' or '.join(_ACTIONS[role])}, not {action!r}")
        return ColumnRule(column, role, action, {})
    if role == KEEP:
        return ColumnRule(column, role, "keep", {})
    if role in (QUASI, SENSITIVE):
        key, methods = ("generalize", _GENERALIZE) if role == QUASI else ("randomize", _RANDOMIZE)
        params = spec.get(key)
        method = params.get("method") if isinstance(params, dict) else None
        if method not in methods:
            raise PolicyError(f"{where}, column '{column}': {role} needs `{key}: {{method: ...}}` "
                              f"with method one of {', '.join(methods)}")
        absent = [p for p in methods[method] if p not in params]
        if absent:
            raise PolicyError(f"{where}, column '{column}': {key} method {method} needs "
                              f"{', '.join(absent)}")
        if role == SENSITIVE and not float(params["epsilon"]) > 0:
            raise PolicyError(f"{where}, column '{column}': epsilon must be > 0")
        problem = _settings_problem(method, params)
        if problem:
            raise PolicyError(f"{where}, column '{column}': {key} method {method}: {problem}")
        if role == SENSITIVE:
            params = _randomize_defaults(method, params)
        return ColumnRule(column, role, key, dict(params))
    raise PolicyError(f"{where}, column '{column}': unknown role {role!r}; use one of "
                      f"{DIRECT}, {QUASI}, {SENSITIVE}, {FREE_TEXT}, {KEEP}")


def _k_anonymity(spec: Optional[Dict], columns: Dict[str, ColumnRule], where: str):
    if not spec:
        return None
    quasi = list(spec.get("quasi_identifiers", []))
    sensitive = list(spec.get("sensitive_attributes", []))
    for name, role in [(c, QUASI) for c in quasi] + [(c, SENSITIVE) for c in sensitive]:
        if name not in columns or columns[name].role != role:
            raise PolicyError(f"{where}: k_anonymity lists '{name}', which is not a {role} "
                              "column of this policy")
    share = float(spec.get("max_suppressed_row_share", 0.0))
    k_min = int(spec.get("k_min", 0))
    if not quasi or k_min < 1 or not 0 <= share <= 1:
        raise PolicyError(f"{where}: k_anonymity needs quasi_identifiers, k_min >= 1 and "
                          "0 <= max_suppressed_row_share <= 1")
    return KAnonymity(quasi, k_min, share, sensitive)


def _cleaning(spec: Optional[Dict], where: str) -> Optional[Cleaning]:
    if not spec:
        return None
    unknown = set(spec) - {f.name for f in dataclasses.fields(Cleaning)}
    if unknown:
        raise PolicyError(f"{where}: unknown cleaning setting(s) {', '.join(sorted(unknown))}")
    bounds = spec.get("timestamp_range")
    if bounds is not None and (len(bounds) != 2 or not int(bounds[0]) <= int(bounds[1])):
        raise PolicyError(f"{where}: cleaning timestamp_range is [first, last] Unix seconds")
    rate = spec.get("max_events_per_user_hour")
    share = float(spec.get("max_removed_row_share", 0.05))
    if (rate is not None and int(rate) < 1) or not 0 <= share <= 1:
        raise PolicyError(f"{where}: cleaning needs max_events_per_user_hour >= 1 (or null) and "
                          "0 <= max_removed_row_share <= 1")
    return Cleaning(bool(spec.get("drop_exact_duplicates", True)),
                    None if bounds is None else [int(b) for b in bounds],
                    None if rate is None else int(rate), share)


def from_dict(source: Dict[str, Any], where: str = "masking policy") -> MaskingPolicy:
    """Validates a resolved policy (as read from YAML or from a custom_config)."""
    if not source.get("version") or not source.get("columns"):
        raise PolicyError(f"{where}: needs `version` and `columns`")
    columns = {c: _rule(c, spec, where) for c, spec in source["columns"].items()}
    pseudonymised = [r.column for r in columns.values() if r.action == "pseudonymize"]
    per_user = [r.column for r in columns.values()
                if r.action == "randomize" and r.params["unit"] == "user"]
    if per_user and len(pseudonymised) != 1:
        raise PolicyError(f"{where}: column(s) {', '.join(per_user)} are randomised per user "
                          "(unit: user), which needs exactly one pseudonymised column (the user "
                          f"id); this policy pseudonymises {len(pseudonymised)}")
    canonical = json.dumps(source, sort_keys=True, separators=(",", ":"))
    return MaskingPolicy(str(source["version"]), hashlib.sha256(canonical.encode()).hexdigest(),
                         columns, _k_anonymity(source.get("k_anonymity"), columns, where),
                         json.loads(canonical), _cleaning(source.get("cleaning"), where))


def load(path: str = DEFAULT_POLICY) -> MaskingPolicy:
    """Reads, resolves (`extends`) and validates a policy file."""
    if not os.path.exists(path):
        raise PolicyError(f"masking policy {path} not found")
    return from_dict(_read_resolved(os.path.abspath(path)), path)
