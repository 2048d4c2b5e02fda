"""An epsilon in a ``Lambda``'s numerics: ``log(t)`` -> ``log(t + eps)``, ``sqrt(t)`` -> ``sqrt(t + eps)``,
``a / b`` -> ``a / (b + eps)``, inside the lambda of the ``Lambda`` layer at the finding's line."""

import libcst as cst

from .source import layers_named

FUNCTIONS = {"log", "sqrt", "rsqrt", "log2", "log10"}
EPSILONS = ("1e-6", "1.0")


class _AddEpsilon(cst.CSTTransformer):
    def __init__(self, epsilon):
        self.epsilon, self.changed = epsilon, 0

    def _plus(self, node, parenthesised=False):
        self.changed += 1
        text = f"{cst.Module([]).code_for_node(node)} + {self.epsilon}"
        return cst.parse_expression(f"({text})" if parenthesised else text)

    def leave_Call(self, original_node, updated_node):
        func = updated_node.func
        name = (
            func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        )
        if name in FUNCTIONS and updated_node.args:
            first = updated_node.args[0]
            return updated_node.with_changes(
                args=[first.with_changes(value=self._plus(first.value)), *updated_node.args[1:]]
            )
        return updated_node

    def leave_BinaryOperation(self, original_node, updated_node):
        if isinstance(updated_node.operator, cst.Divide) and not isinstance(
            updated_node.right, (cst.Integer, cst.Float)
        ):
            return updated_node.with_changes(right=self._plus(updated_node.right, parenthesised=True))
        return updated_node


def candidates(source, finding, findings=()):
    lambdas = [c for c in layers_named(source, finding) if (source.keras(c) or "").endswith("Lambda") and c.args]
    made = []
    for epsilon in EPSILONS:
        edits = {}
        for call in lambdas:
            function = call.args[0].value
            if isinstance(function, cst.Lambda):
                editor = _AddEpsilon(epsilon)
                body = function.body.visit(editor)
                if editor.changed:
                    edits[call] = call.with_changes(
                        args=[call.args[0].with_changes(value=function.with_changes(body=body)), *call.args[1:]]
                    )
        if edits:
            made.append((f"+ {epsilon} inside the Lambda's log/sqrt/division", source.apply(edits)))
    return made
