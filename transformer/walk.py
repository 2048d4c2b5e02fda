"""A read-only walk over a libcst tree, several times cheaper than ``CSTNode.visit``.

``node.visit(visitor)`` rebuilds every node it passes (libcst's visitors may replace children) and calls
two attribute hooks per field: most of the cost of one pass over a 1,000-line module. ``walk`` only reads:
it follows each node's dataclass fields that hold nodes and calls the visitor's ``on_visit`` (children are
skipped when it returns False) and ``on_leave``, so a ``CSTVisitor`` written for ``visit`` runs unchanged.

The order differs from ``visit`` in one way: children come in the order of the node's fields, which is
the order of the source for the statements of a block, the blocks of a compound statement and the
arguments of a call, but not everywhere (a ``def``'s decorators come after its body; ``a if t else b``
gives ``t`` first). Callers that keep an order across nodes of one statement must not rely on it.
"""

import dataclasses

import libcst as cst

_LEAF, _NODE, _SEQUENCE = 0, 1, 2
_kinds = {}  # type of a field value -> _LEAF / _NODE / _SEQUENCE
_fields = {}  # node type -> names of its dataclass fields


def _kind(value):
    kind = _kinds.get(type(value))
    if kind is None:
        kind = _NODE if isinstance(value, cst.CSTNode) else _SEQUENCE if isinstance(value, (list, tuple)) else _LEAF
        _kinds[type(value)] = kind
    return kind


def _trivia():
    """The node types that hold only layout: whitespace, comments, operators, brackets, commas."""
    trivia = {cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket}
    trivia |= {cst.LeftCurlyBrace, cst.RightCurlyBrace}
    for value in vars(cst).values():
        if isinstance(value, type) and issubclass(value, cst.CSTNode):
            if value.__module__ in ("libcst._nodes.whitespace", "libcst._nodes.op"):
                trivia.add(value)
    return frozenset(trivia)


TRIVIA = _trivia()  # a walker that needs no layout skips them: about half the nodes of a module


def _children(node):
    names = _fields.get(type(node))
    if names is None:
        names = _fields[type(node)] = tuple(field.name for field in dataclasses.fields(node))
    children = []
    for name in names:
        value = getattr(node, name)
        kind = _kind(value)
        if kind is _NODE:
            children.append(value)
        elif kind is _SEQUENCE:
            children.extend(item for item in value if _kind(item) is _NODE)
    return children


def walk(node, visitor, skip=frozenset()):
    """Call ``visitor.on_visit``/``on_leave`` on ``node`` and every node below it, depth first (no recursion:
    a deeply nested file costs no stack), leaving out the nodes whose type is in ``skip`` and all below them."""
    stack = [(node, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            visitor.on_leave(node)
            continue
        stack.append((node, True))
        if visitor.on_visit(node):
            stack.extend((child, False) for child in reversed(_children(node)) if type(child) not in skip)
