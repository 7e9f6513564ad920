"""What the masking ExampleGen records on its output artifacts in MLMD: the input files as
lineage (name, size and SHA-256 of the stored bytes, never their contents), the policy's
version and hash and the pseudonym key's fingerprint.
"""
import json
import os
from typing import Dict, Sequence

from components.masking import policy as policy_lib
from privrec.data import sources

KEY_FINGERPRINT = "pseudonym_key_fingerprint"
POLICY_VERSION = "masking_policy_version"
POLICY_SHA256 = "masking_policy_sha256"
SOURCE_FILES = "source_files"


def source_files(files: Sequence[str]) -> str:
    """The input files as JSON lineage: base name, size and SHA-256 (never their contents)."""
    entries = []
    for path in files:
        sha256, size = sources.digest(path)
        entries.append({"name": os.path.basename(path), "bytes": size, "sha256": sha256})
    return json.dumps(entries)


def properties(policy: policy_lib.MaskingPolicy, key_fingerprint: str,
               files: Sequence[str]) -> Dict[str, str]:
    """The string custom properties set on the examples and the masking report."""
    return {KEY_FINGERPRINT: key_fingerprint, POLICY_VERSION: policy.version,
            POLICY_SHA256: policy.sha256, SOURCE_FILES: source_files(files)}
