"""Where does the model in ``model.fit(...)`` come from?

``ModelOrigins`` reads a module once (with libcst's scope metadata) and then answers
``origin(expression)`` for a ``fit`` receiver: a Keras ``Sequential``, a functional ``Model``, a loaded
model, an instance of a ``keras.Model`` subclass (with or without its own ``train_step``), or unknown.
It follows names to the assignments that reach them in the flow of the file (``reaching``: a script
that rebinds ``model`` many times resolves each ``model.fit`` to the binding made before it, not to any
binding anywhere), and calls of functions and classes defined in the same module to what they return, so
``model = build_model()`` is resolved. A function parameter (``def compile_and_fit(model, ...)``) is a
model known only at run time. Nothing is executed or imported.
"""

import functools
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import PositionProvider, ScopeProvider

from .keras_names import is_model_class, keras_path, model_kind
from .reaching import Flow

# "parameter": a function's parameter; the generated loop checks at run time that it can train the object.
REWRITABLE = ("sequential", "functional", "loaded", "subclass", "parameter")


@dataclass(frozen=True)
class Origin:
    kind: str  # one of REWRITABLE, "custom_train_step", or "unknown"
    detail: str = ""  # for messages: what was found, or why it is unknown

    @property
    def is_keras(self):
        """Known to be a Keras model from the file alone (a parameter may be anything until run time)."""
        return self.kind in REWRITABLE and self.kind != "parameter" or self.kind == "custom_train_step"


UNKNOWN = Origin("unknown")


class _Collector(cst.CSTVisitor):
    """One pass over the module: assignments, returns, Model subclasses, compile and fit calls."""

    def __init__(self, scopes):
        self.scopes = scopes  # node -> libcst Scope (ScopeProvider)
        self.values = {}  # id(assigned Name node) -> assigned expression
        self.returns = {}  # id(FunctionDef) -> [returned expressions]
        self.classes = {}  # id(ClassDef) -> Origin of its instances
        self.compiled = set()  # names on which .compile(...) is called
        self.fit_calls = []  # (Call, module-level statement containing it), in source order
        self.in_fstring = set()  # id() of the fit calls written inside an f-string's {...}
        self.parents = {}  # node -> parent node (as libcst's ParentNodeProvider, without a second pass)
        self._path = []
        self._functions = []
        self._top = None
        self._depth = 0
        self._fstrings = 0

    def keras_path(self, node):
        """The Keras path of the name ``node`` evaluates to (``"layers.Dense"``), or None."""
        scope = self.scopes.get(node)
        return keras_path(scope.get_qualified_names_for(node)) if scope is not None else None

    def on_visit(self, node):
        if self._path:
            self.parents[node] = self._path[-1]
        self._path.append(node)
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            if self._depth == 0:
                self._top = node
            self._depth += 1
        return super().on_visit(node)

    def on_leave(self, original_node):
        self._path.pop()
        if isinstance(original_node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            self._depth -= 1
        super().on_leave(original_node)

    def visit_Assign(self, node):
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.values[id(target.target)] = node.value

    def visit_AnnAssign(self, node):
        if isinstance(node.target, cst.Name) and node.value is not None:
            self.values[id(node.target)] = node.value

    def visit_NamedExpr(self, node):
        if isinstance(node.target, cst.Name):
            self.values[id(node.target)] = node.value

    def visit_FunctionDef(self, node):
        self._functions.append(node)
        self.returns[id(node)] = []

    def leave_FunctionDef(self, node):
        self._functions.pop()

    def visit_Lambda(self, node):
        self._functions.append(node)

    def leave_Lambda(self, node):
        self._functions.pop()

    def visit_Return(self, node):
        if self._functions and isinstance(self._functions[-1], cst.FunctionDef) and node.value is not None:
            self.returns[id(self._functions[-1])].append(node.value)

    def visit_ClassDef(self, node):
        if not any(is_model_class(self.keras_path(base.value)) for base in node.bases):
            return
        methods = {statement.name.value for statement in node.body.body if isinstance(statement, cst.FunctionDef)}
        if "train_step" in methods:
            self.classes[id(node)] = Origin("custom_train_step", f"{node.name.value} defines its own train_step")
        else:
            self.classes[id(node)] = Origin("subclass", f"an instance of {node.name.value}, a keras.Model subclass")

    def visit_FormattedString(self, node):
        self._fstrings += 1

    def leave_FormattedString(self, node):
        self._fstrings -= 1

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, cst.Attribute):
            if func.attr.value == "compile" and isinstance(func.value, cst.Name):
                self.compiled.add(func.value.value)
            elif func.attr.value == "fit":
                self.fit_calls.append((node, self._top))
                if self._fstrings:
                    self.in_fstring.add(id(node))


class ModelOrigins:
    def __init__(self, wrapper):
        self._data = _Collector(wrapper.resolve(ScopeProvider))
        wrapper.module.visit(self._data)
        self.fit_calls = self._data.fit_calls
        self._wrapper = wrapper

    @functools.cached_property
    def _flow(self):  # positions are computed only for a module with fit calls to resolve
        return Flow(self._data.parents, self._wrapper.resolve(PositionProvider))

    def is_compiled(self, name):
        return name in self._data.compiled

    def in_fstring(self, call):
        """Whether the fit ``call`` is written inside an f-string (``f"{model.fit(x)}"``)."""
        return id(call) in self._data.in_fstring

    def origin(self, expression, _depth=0):
        """The ``Origin`` of the value ``expression`` evaluates to."""
        if _depth > 20:
            return Origin("unknown", "the model's definition is too deeply nested to follow")
        if isinstance(expression, cst.Call):
            return self._origin_of_call(expression, _depth)
        if isinstance(expression, cst.Name):
            return self._origin_of_name(expression, _depth)
        if isinstance(expression, cst.Attribute):
            return Origin("unknown", "the model is an attribute; its assignment cannot be followed")
        return Origin("unknown", "the model is not a name bound by an assignment")

    def _origin_of_call(self, call, depth):
        kind = model_kind(self._data.keras_path(call.func))
        if kind is not None:
            return Origin(kind)
        if isinstance(call.func, cst.Name):
            definitions = self._definitions(call.func)
            if definitions:
                origins = []
                for definition in definitions:
                    if isinstance(definition, cst.FunctionDef):
                        returned = self._data.returns.get(id(definition), [])
                        if not returned:
                            return Origin("unknown", f"{call.func.value}() returns no model")
                        origins.extend(self.origin(value, depth + 1) for value in returned)
                    elif isinstance(definition, cst.ClassDef) and id(definition) in self._data.classes:
                        origins.append(self._data.classes[id(definition)])
                    else:
                        origins.append(Origin("unknown", f"{call.func.value} is not a model builder of this file"))
                return _agree(origins)
        callee = cst.Module([]).code_for_node(call.func)
        return Origin("unknown", f"the model comes from {callee}(), defined outside this file")

    def _origin_of_name(self, name, depth):
        values = []
        for assignment in self._assignments(name):
            node = getattr(assignment, "node", None)  # builtins have none
            if isinstance(node, cst.Param):
                values.append(Origin("parameter", f"{name.value!r} is a parameter of {self._flow.function_of(node)}()"))
            elif isinstance(node, cst.Name) and id(node) in self._data.values:
                value = self._data.values[id(node)]
                if isinstance(value, cst.Name) and value.value == "None":
                    continue  # `model = None` placeholders do not decide the origin
                values.append(self.origin(value, depth + 1))
            else:
                values.append(Origin("unknown", f"{name.value!r} is bound by something other than an assignment"))
        if not values:
            return Origin("unknown", f"no assignment of {name.value!r} found")
        return _agree(values)

    def _assignments(self, name):
        """The bindings of ``name`` that can reach this use of it (see ``reaching.Flow``)."""
        scope = self._data.scopes.get(name)
        if scope is None:
            return []
        return self._flow.reaching(name, scope, list(scope[name.value]))

    def _definitions(self, name):
        return [
            getattr(a, "node", None)
            for a in self._assignments(name)
            if isinstance(getattr(a, "node", None), (cst.FunctionDef, cst.ClassDef))
        ]


def _agree(origins):
    """All the ways a value can be bound must be models of one rewritable kind, else the most cautious."""
    for origin in origins:
        if origin.kind == "unknown":
            return origin
    for origin in origins:
        if origin.kind == "parameter":
            return origin
    for origin in origins:
        if origin.kind == "custom_train_step":
            return origin
    return origins[0]
