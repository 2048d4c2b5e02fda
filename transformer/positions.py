"""Source positions of nodes (libcst's ``PositionProvider`` ranges), computed only where they are asked for.

``PositionProvider`` generates the code of the whole module while recording a range for every node: a
quarter of the transform time of a 1,000-line script, for the few dozen nodes the reaching analysis and
the messages ask about. ``LazyPositions`` gives the same ranges, statement by statement: a module-level
statement's ranges are recorded, with libcst's own position-recording code generation, the first time a
node in it is asked for, starting from the line and column where the statement begins (found by one
plain code generation of the module that only counts lines). The result is the same as
``PositionProvider``'s because a module's code is its statements' code laid end to end.
"""

from contextlib import contextmanager

from libcst.metadata.position_provider import PositionProvidingCodegenState


class _LineCountingState(PositionProvidingCodegenState):
    """Code generation that follows line and column exactly as ``PositionProvider`` does, recording nothing."""

    def before_codegen(self, node):
        pass

    def after_codegen(self, node):
        pass

    @contextmanager
    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        yield


class LazyPositions:
    """``node -> CodeRange`` (``positions[node]``, ``node in positions``) for the nodes of ``module``.

    ``parents`` maps each node below the module to its parent (the module's statements to the module).
    """

    def __init__(self, module, parents):
        self._module = module
        self._parents = parents
        self._starts = None  # id(module-level statement) -> (line, column) where its code begins
        self._recorded = set()  # id() of the module-level statements whose ranges are recorded
        self._computed = {}  # node -> CodeRange: the attribute libcst's codegen state writes to

    def __getitem__(self, node):
        if node not in self:
            raise KeyError(node)
        return self._computed[node]

    def __contains__(self, node):
        statement = self._statement_of(node)
        if statement is None:
            return False
        if id(statement) not in self._recorded:
            self._record(statement)
        return node in self._computed

    def _statement_of(self, node):
        """The module-level statement that contains ``node`` (or is it), or None for a node outside the body."""
        while True:
            parent = self._parents.get(node)
            if parent is None:
                return None
            if parent is self._module:
                return node
            node = parent

    def _record(self, statement):
        if self._starts is None:
            self._starts = self._statement_starts()
        line, column = self._starts[id(statement)]
        state = PositionProvidingCodegenState(
            default_indent=self._module.default_indent,
            default_newline=self._module.default_newline,
            provider=self,
            line=line,
            column=column,
        )
        statement._codegen(state)
        self._recorded.add(id(statement))

    def _statement_starts(self):
        module = self._module
        state = _LineCountingState(
            default_indent=module.default_indent, default_newline=module.default_newline, provider=self
        )
        for line in module.header:
            line._codegen(state)
        starts = {}
        for statement in module.body:
            starts[id(statement)] = (state.line, state.column)
            statement._codegen(state)
        return starts
