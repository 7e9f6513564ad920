"""Keyed pseudonymisation of user ids: SipHash-2-4 under a secret 128-bit key, as a TF op.

The same id maps to the same pseudonym under one key; without the key pseudonyms cannot be
linked back. The same key, on other inputs, is the PRF behind per-user randomised response
(randomize.py): a secret from os.urandom, not a seed the code or an adversary holds. The key is
read from PRIVREC_PSEUDONYM_KEY (32 hex digits) or from the file named by
PRIVREC_PSEUDONYM_KEY_FILE; it is never written to artifacts, logs or MLMD. Only its
fingerprint (a SHA-256 prefix) is recorded, so runs under the same key can be recognised.
"""
import dataclasses
import hashlib
import os
import secrets
from typing import TYPE_CHECKING, Tuple

if TYPE_CHECKING:
    import tensorflow as tf

KEY_ENV = "PRIVREC_PSEUDONYM_KEY"
KEY_FILE_ENV = "PRIVREC_PSEUDONYM_KEY_FILE"
# Public, therefore offering no protection: only for local development with --dev-key.
DEV_KEY_HEX = "00112233445566778899aabbccddeeff"
DEV_KEY_FINGERPRINT = "DEV-KEY-NOT-PRIVATE"
_BUCKETS = 2**63 - 1


class MissingKeyError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class PseudonymKey:
    words: Tuple[int, int]  # the two 64-bit halves SipHash takes
    fingerprint: str
    is_dev: bool


def _parse(hex_key: str, source: str) -> Tuple[int, int]:
    hex_key = hex_key.strip()
    try:
        raw = bytes.fromhex(hex_key)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise MissingKeyError(f"the pseudonymisation key from {source} must be 32 hex digits "
                              "(128 bits); create one with `privrec keygen`")
    return int.from_bytes(raw[:8], "big") >> 1, int.from_bytes(raw[8:], "big") >> 1


def load_key(allow_dev_key: bool = False) -> PseudonymKey:
    """Reads the key from the environment; refuses to go on without one unless allow_dev_key."""
    if os.environ.get(KEY_ENV):
        hex_key, source = os.environ[KEY_ENV], f"${KEY_ENV}"
    elif os.environ.get(KEY_FILE_ENV):
        path = os.environ[KEY_FILE_ENV]
        if not os.path.exists(path):
            raise MissingKeyError(f"${KEY_FILE_ENV} names {path}, which does not exist")
        with open(path, encoding="ascii") as f:
            hex_key, source = f.read(), path
    elif allow_dev_key:
        return PseudonymKey(_parse(DEV_KEY_HEX, "dev key"), DEV_KEY_FINGERPRINT, True)
    else:
        raise MissingKeyError(
            f"no pseudonymisation key: set ${KEY_ENV} (32 hex digits) or ${KEY_FILE_ENV} (a file "
            "holding them; `privrec keygen PATH` makes one). For local development only, "
            "--dev-key uses a public key that protects nothing.")
    words = _parse(hex_key, source)
    fingerprint = hashlib.sha256(bytes.fromhex(hex_key.strip())).hexdigest()[:16]
    return PseudonymKey(words, fingerprint, False)


def new_key_hex() -> str:
    return secrets.token_hex(16)


def pseudonymize(ids: "tf.Tensor", key: PseudonymKey) -> "tf.Tensor":
    """Maps a string tensor of ids to 'u<decimal SipHash>' pseudonyms under the key."""
    import tensorflow as tf  # here: `privrec keygen` needs the key functions alone
    hashed = tf.strings.to_hash_bucket_strong(ids, _BUCKETS, key=list(key.words))
    return tf.strings.join(["u", tf.strings.as_string(hashed)])
