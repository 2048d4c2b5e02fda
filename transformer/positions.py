"""Source positions of nodes (libcst's ``PositionProvider`` ranges), computed only where they are asked for.

``PositionProvider`` generates the code of the whole module while recording a range for every node: a
quarter of the transform time of a 1,000-line script, for the few dozen nodes the reaching analysis and
the messages ask about. ``LazyPositions`` gives the same ranges, statement by statement: the innermost
statement around a node asked for is generated with libcst's own position-recording code generation,
starting from the line, column and indentation where it begins in the module (found by one plain code
generation of the module that only counts lines). Code generation is a left-to-right walk whose state is
exactly that triple, so the ranges are ``PositionProvider``'s.

A ``def`` or ``class`` header (its name, parameters, bases, decorators) is generated without the body,
which comes after it: a function's own range then ends at its header. Nothing reads it: a definition
binds its name where the name is written (``reaching.Flow._effect``).
"""

from contextlib import nullcontext

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

# libcst's code generation internals (the one place this package uses them; ``tests/test_positions.py`` checks the
# ranges against ``PositionProvider``'s). Without them, ``positions`` falls back to libcst's own pass.
try:
    from libcst._position import CodePosition, CodeRange
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    LAZY = hasattr(cst.CSTNode, "_codegen") and hasattr(PositionProvidingCodegenState, "_update_position")
except ImportError:  # pragma: no cover - another libcst
    PositionProvidingCodegenState, LAZY = object, False

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)  # nothing of theirs follows the body
_STATEMENT_TYPES = {}  # node type -> whether it is a statement of a block (isinstance on libcst's ABCs is slow)


def is_statement(node_type):
    """Whether nodes of ``node_type`` are statements of a block (a line of simple statements, or compound)."""
    if node_type not in _STATEMENT_TYPES:
        _STATEMENT_TYPES[node_type] = issubclass(node_type, _STATEMENTS)
    return _STATEMENT_TYPES[node_type]


class _RecordingState(PositionProvidingCodegenState):
    """libcst's position-recording code generation, with a shortcut for the common token without a line break."""

    def _update_position(self, value):
        if "\n" in value or "\r" in value:
            super()._update_position(value)
        else:  # what the parent computes for a single segment, without splitting on a regex
            self.column += len(value)

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _SyntacticPosition(self, node, start_node, end_node)


class _SyntacticPosition:
    """``PositionProvidingCodegenState.record_syntactic_position`` as a plain context manager (a generator-based
    one costs several times more, and it is entered for most nodes): the same range, recorded the same way."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state, node, start_node, end_node):
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self):
        self.start = CodePosition(self.state.line, self.state.column)

    def __exit__(self, *exception):
        state, computed = self.state, self.state.provider._computed
        start = computed[self.start_node].start if self.start_node is not None else self.start
        end = computed[self.end_node].end if self.end_node is not None else CodePosition(state.line, state.column)
        computed[self.node] = CodeRange(start, end)


class _StartsState(_RecordingState):
    """Code generation that follows line and column as ``PositionProvider`` does and records only where each
    statement begins: ``starts[id(statement)] = (line, column, indentation)``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.starts = {}

    def before_codegen(self, node):
        if is_statement(type(node)):
            self.starts[id(node)] = (self.line, self.column, tuple(self.indent_tokens))

    def after_codegen(self, node):
        pass

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _NOTHING


_NOTHING = nullcontext()


def positions(module, parents):
    """``node -> CodeRange`` for the nodes of ``module`` (``parents``: each node's parent), lazily where libcst allows."""
    if LAZY:
        return LazyPositions(module, parents)
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


class LazyPositions:
    """``node -> CodeRange`` (``positions[node]``, ``node in positions``) for the nodes of ``module``.

    ``parents`` maps each node below the module to its parent (the module's statements to the module).
    """

    def __init__(self, module, parents):
        self._module = module
        self._parents = parents
        self._starts = None  # id(statement) -> (line, column, indentation) where its code begins
        self._recorded = set()  # (id(statement), header only) already generated
        self._computed = {}  # node -> CodeRange: the attribute libcst's codegen state writes to

    def __getitem__(self, node):
        if node not in self:
            raise KeyError(node)
        return self._computed[node]

    def __contains__(self, node):
        found = self._statement_of(node)
        if found is None:
            return False
        statement, child = found
        if statement is None:  # the comments and blank lines around the module's statements: rarely asked for
            statement, child = self._module, None
        header = isinstance(statement, _DEFINITIONS) and child is not statement.body
        if (id(statement), header) not in self._recorded and (id(statement), False) not in self._recorded:
            self._record(statement, header)
        return node in self._computed

    def _statement_of(self, node):
        """``(innermost statement around or at node, its child on the way to node or None)``; None outside the module."""
        found, child, previous = None, None, None
        while node is not self._module:
            if found is None and is_statement(type(node)) and not self._is_elif(node):
                found, child = node, previous
            previous = node
            node = self._parents.get(node)
            if node is None:
                return None
        return found, child

    def _is_elif(self, node):
        """An ``elif`` is an ``If`` in its parent's ``orelse``: written as ``elif`` only with its parent's code."""
        return isinstance(node, cst.If) and isinstance(self._parents.get(node), cst.If)

    def _record(self, statement, header):
        if self._starts is None:
            self._starts = self._statement_starts()
        line, column, indentation = self._starts.get(id(statement), (1, 0, ()))  # the module starts at 1:0
        state = _RecordingState(
            default_indent=self._module.default_indent,
            default_newline=self._module.default_newline,
            provider=self,
            line=line,
            column=column,
            indent_tokens=list(indentation),
        )
        if header:
            copy = statement.with_changes(body=cst.IndentedBlock(body=()))
            copy._codegen(state)
            self._computed[statement] = self._computed[copy]
        else:
            self._computed.pop(statement, None)  # a header's range, recorded before, gives way to the whole
            statement._codegen(state)
        self._recorded.add((id(statement), header))

    def _statement_starts(self):
        module = self._module
        state = _StartsState(
            default_indent=module.default_indent, default_newline=module.default_newline, provider=None
        )
        module._codegen(state)
        return state.starts
