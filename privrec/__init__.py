"""privrec: privacy-preserving search & recommendation on TFX.

Importing this package sets the runtime switches the stack needs (see ../shared/STACK.md).
It is the one place they live; every entry point (CLI, TFX modules, tests) imports it first.

Layers (pyproject.toml's import-linter contracts; a layer imports only the ones below it):

    privrec.app  |  bench       the roof
    audit
    pipeline
    components  |  trainer      siblings: neither imports the other
    serving
    privrec (core): contract, data, privacy, randomness, text_scrubber, beam_dependencies
"""
import os
import sys

# tf.keras must be Keras 2 (tf_keras): TF-Privacy's DP optimizers, TFRS and keras-nlp 0.12 need it.
# Must happen before TensorFlow is imported anywhere in the process.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TF-Privacy's own switch: its __init__ imports tensorflow_estimator, broken on TF 2.16.
sys.skip_tf_privacy_import = True

__version__ = "0.1.0"
