"""An excessive weight penalty: the ``kernel_regularizer`` removed from the layers that have it with the
same text, or its factor lowered to 1e-4."""

import libcst as cst

from .source import argument, layers_named, remove_argument, with_same_argument

KEYWORDS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")


class _Factor(cst.CSTTransformer):
    def leave_Float(self, original_node, updated_node):
        return updated_node.with_changes(value="1e-4")

    def leave_Integer(self, original_node, updated_node):
        return cst.Float("1e-4")


def candidates(source, finding, findings=()):
    named = layers_named(source, finding, findings)
    made = []
    for keyword in KEYWORDS:
        texts, same = with_same_argument(source, named, keyword)
        if not same:
            continue
        made.append(
            (
                f"{keyword} {' / '.join(sorted(texts))} removed from {len(same)} layer(s)",
                source.apply({c: remove_argument(c, keyword) for c in same}),
            )
        )
        lowered = {argument(c, keyword).value: argument(c, keyword).value.visit(_Factor()) for c in same}
        made.append((f"{keyword} factor lowered to 1e-4 in {len(same)} layer(s)", source.apply(lowered)))
    return made
