"""Which bindings of a name reach a given use of it, in the flow of the file.

A notebook exported as one script rebinds ``model`` again and again; each ``model.fit(...)`` trains the
model bound last before it, not any model the file ever binds to that name. libcst's scope analysis
lists every binding of a name in a scope; ``Flow.reaching`` keeps those that can reach one use:

- the bindings of the same scope made before the use, walking back from the use up to (and including)
  the nearest one that is certain to have run (a binding whose every enclosing block also encloses the
  use: not in another branch of an ``if``, a ``try``, a loop body the use is outside of, ...);
- bindings made after the use inside a loop that encloses both, which the next iteration sees, unless the
  certain binding found above is in that loop too (it rebinds the name before the use on every iteration);
- all of them when the use is in another scope than the bindings (a function reading a global can run
  at any time) or when nothing precedes the use.

A binding takes effect at the end of its statement (``model = wrap(model)`` reads the earlier ``model``).
This is a syntactic approximation: when it cannot tell, it keeps more bindings, never fewer, and the
caller treats disagreeing bindings cautiously.
"""

import libcst as cst

_BLOCKS = (cst.IndentedBlock, cst.SimpleStatementSuite)  # bodies of if/else/for/while/try/except/with/def...
_LOOPS = (cst.For, cst.While)
_STATEMENTS = (cst.BaseSmallStatement, cst.BaseCompoundStatement)


class Flow:
    def __init__(self, parents, positions):
        self._parents = parents  # node -> parent node (as ParentNodeProvider maps them)
        self._positions = positions  # node -> CodeRange (PositionProvider)

    def _ancestors(self, node):
        chain = []
        while node in self._parents:
            node = self._parents[node]
            chain.append(node)
        return chain

    def function_of(self, node):
        """The name of the function whose parameter ``node`` is (for messages)."""
        for ancestor in self._ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor.name.value
        return "a lambda"

    def _effect(self, node):
        """Where a binding takes effect: the end of its statement (``x = f(x)``); a ``def`` or ``class`` at its name."""
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return self._start(node.name)
        for ancestor in [node, *self._ancestors(node)]:
            if isinstance(ancestor, cst.NamedExpr):
                return self._end(ancestor)
            if isinstance(ancestor, cst.BaseSmallStatement):
                return self._end(ancestor)
            if isinstance(ancestor, cst.BaseCompoundStatement):
                break  # for/with targets, imports in a compound header: bound where they are written
        return self._start(node)

    def _start(self, node):
        start = self._positions[node].start
        return (start.line, start.column)

    def _end(self, node):
        end = self._positions[node].end
        return (end.line, end.column)

    def _certain(self, binding_ancestors, use_ancestors):
        """Whether a binding before the use has surely run when the use runs: every block around the binding
        (a branch, a loop or ``try`` body, a handler; a ``with`` body always runs) also encloses the use."""
        use = set(map(id, use_ancestors))
        return all(
            id(block) in use
            for block in binding_ancestors
            if isinstance(block, _BLOCKS) and not isinstance(self._parents.get(block), cst.With)
        )

    def reaching(self, use, scope, assignments):
        """The subset of ``assignments`` (libcst Assignments of ``use``'s name, seen from ``scope``) reaching ``use``."""
        if use not in self._positions or not assignments:
            return assignments
        located = []
        for assignment in assignments:
            node = getattr(assignment, "node", None)
            if assignment.scope is not scope or node is None or node not in self._positions:
                return assignments  # bound in another scope (a global read in a function), or a builtin
            located.append((self._effect(node), self._ancestors(node), assignment))
        here = self._start(use)
        use_ancestors = self._ancestors(use)
        before = sorted((item for item in located if item[0] <= here), key=lambda item: item[0], reverse=True)
        reaching, certain = [], None
        for item in before:
            reaching.append(item[2])
            if self._certain(item[1], use_ancestors):
                certain = item
                break
        use_loops = [a for a in use_ancestors if isinstance(a, _LOOPS)]
        for position, ancestors, assignment in located:
            if position <= here:
                continue
            ids = set(map(id, ancestors))
            loops = [loop for loop in use_loops if id(loop) in ids]  # loops around both the use and the binding
            if certain is not None:
                certain_ids = set(map(id, certain[1]))
                loops = [loop for loop in loops if id(loop) not in certain_ids]
            if loops:
                reaching.append(assignment)
        return reaching or assignments
