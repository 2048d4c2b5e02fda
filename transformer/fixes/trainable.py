"""Frozen layers: ``trainable=False`` in a layer call, or ``layer.trainable = False``, restored to ``True``."""

import libcst as cst

from .source import argument, literal, set_argument


def candidates(source, finding, findings=()):
    edits = {}
    for call in source.layer_calls():
        flag = argument(call, "trainable")
        if flag is not None and literal(flag.value) is False:
            edits[call] = set_argument(call, "trainable", "True")
    for node in source.positions:
        if (
            isinstance(node, cst.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Attribute)
            and node.targets[0].target.attr.value == "trainable"
            and literal(node.value) is False
        ):
            edits[node.value] = cst.Name("True")
    return [(f"trainable restored in {len(edits)} place(s)", source.apply(edits))] if edits else []
