"""TF-Privacy's membership inference attack library, importable under its own name.

The pinned TF-Privacy wheel lacks `privacy_tests` (tensorflow/privacy#555); third_party/
tf_privacy_tests holds TF-Privacy's unmodified modules (see its README). Importing this module
makes `tensorflow_privacy.privacy.privacy_tests` resolve there.
"""
import os

import privrec  # noqa: F401  (runtime switches: skip TF-Privacy's eager imports)
import tensorflow_privacy.privacy as _tf_privacy

VENDORED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "third_party", "tf_privacy_tests")
if VENDORED not in _tf_privacy.__path__:
    _tf_privacy.__path__.append(VENDORED)

# noqa below: these imports need the path above.
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (  # noqa: E402
    data_structures, membership_inference_attack)

__all__ = ["data_structures", "membership_inference_attack"]
