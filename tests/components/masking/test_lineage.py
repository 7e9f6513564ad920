"""lineage.py: the artifacts' custom properties hold the files' names, sizes and SHA-256 and
the policy and key they were masked with, never file contents."""
import hashlib
import json

from components.masking import lineage
from components.masking import policy as policy_lib


def test_properties_record_files_policy_and_key(tmp_path):
    path = tmp_path / "part-0.csv"
    path.write_bytes(b"user_id\nsecret-user\n")
    tiny = policy_lib.load(policy_lib.TINY_POLICY)
    props = lineage.properties(tiny, "fp-1", [str(path)])
    assert props[lineage.KEY_FINGERPRINT] == "fp-1"
    assert (props[lineage.POLICY_VERSION], props[lineage.POLICY_SHA256]) == (tiny.version,
                                                                             tiny.sha256)
    assert json.loads(props[lineage.SOURCE_FILES]) == [
        {"name": "part-0.csv", "bytes": 20,
         "sha256": hashlib.sha256(b"user_id\nsecret-user\n").hexdigest()}]
    assert "secret-user" not in json.dumps(props)
