"""Which ops a SavedModel needs, and whether the official TF Serving build has them.

TF Serving embeds core TF plus TF Text 2.12.1 (tensorflow/serving PR #4057): ops added to TF
Text later (e.g. `TFText>RoundRobinTrim`) fail to load there, and py_function cannot be served.
"""
import os
from typing import Set

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

# TF Text ops old enough for the TF Text that TF Serving embeds.
TF_TEXT_ALLOWLIST = frozenset({"CaseFoldUTF8", "NormalizeUTF8", "RegexSplitWithOffsets",
                               "WordpieceTokenizeWithOffsets"})
NEVER_SERVABLE = frozenset({"PyFunc", "EagerPyFunc", "PyFuncStateless"})


def saved_model_ops(model_dir: str) -> Set[str]:
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def ops_tf_serving_lacks(model_dir: str) -> Set[str]:
    """Ops of the SavedModel outside core TF and the TF Text allowlist, plus any py_function."""
    core = set(dir(tf.raw_ops)) - NEVER_SERVABLE
    return {op for op in saved_model_ops(model_dir) if op not in core | TF_TEXT_ALLOWLIST}
