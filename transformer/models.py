"""Where does the model in ``model.fit(...)`` come from?

``ModelOrigins`` reads a module once (a cheap walk, then libcst's scope metadata for the statements the
``fit`` receivers depend on) and then answers ``origin(expression)`` for a ``fit`` receiver: a Keras
``Sequential``, a functional ``Model``, a loaded model, an instance of a ``keras.Model`` subclass (with or
without its own ``train_step``), or unknown. It follows names to the assignments that reach them in the flow of the file (``reaching``: a script
that rebinds ``model`` many times resolves each ``model.fit`` to the binding made before it, not to any
binding anywhere), and calls of functions and classes defined in the same module to what they return, so
``model = build_model()`` is resolved. A function parameter (``def compile_and_fit(model, ...)``) is a
model known only at run time. Nothing is executed or imported.
"""

import functools
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, ScopeProvider

from .keras_names import is_model_class, keras_path, model_kind
from .positions import is_statement
from .positions import positions as positions_of
from .reaching import Flow
from .walk import TRIVIA, walk

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
    """One pass over the module: assignments, returns, classes, compile and fit calls, names per statement.

    It needs no metadata: scope analysis runs afterwards, and only on what the ``fit`` calls depend on.
    """

    def __init__(self):
        self.values = {}  # id(assigned Name node) -> assigned expression
        self.returns = {}  # id(FunctionDef) -> [returned expressions]
        self.follows = {}  # name -> expressions the origin of a value of that name is read from (see _wanted_names)
        self.compiled = set()  # names on which .compile(...) is called
        self.fit_calls = []  # (Call, module-level statement containing it), in source order
        self.in_fstring = set()  # id() of the fit calls written inside an f-string's {...}
        self.parents = {}  # node -> parent node (as libcst's ParentNodeProvider, without a second pass)
        self.names = {}  # id(statement) -> names it may bind (nested statements included), and _FIT/_RETURN
        self._path = []
        self._functions = []
        self._statements = []  # the names of each open statement
        self._top = None
        self._fstrings = 0
        self._imports = 0

    def collect(self, module):
        """Read ``module``: with ``walk`` (cheap), then the fit calls of each statement put in source order."""
        walk(module, self, skip=TRIVIA)  # layout holds no names, calls or statements
        statements = {}  # id(module-level statement) -> (statement, its fit calls); statements in module order
        for call, top in self.fit_calls:
            statements.setdefault(id(top), (top, []))[1].append(call)
        self.fit_calls = []
        for top, calls in statements.values():
            if len(calls) > 1:  # walk's order inside a statement is not always the source's
                calls = _in_visit_order(top, calls)
            self.fit_calls.extend((call, top) for call in calls)

    def _follow(self, name, expression):
        self.follows.setdefault(name, []).append(expression)

    def on_visit(self, node):
        if self._path:
            self.parents[node] = self._path[-1]
        self._path.append(node)
        node_type = type(node)
        if is_statement(node_type):
            if not self._statements:
                self._top = node
            self._statements.append(set())
        elif node_type is cst.Name and self._statements and (self._imports or _may_bind(node, self._path[-2])):
            self._statements[-1].add(node.value)
        visit = _hook(type(self), "visit_", node_type)
        return visit is None or visit(self, node) is not False

    def on_leave(self, original_node):
        self._path.pop()
        if is_statement(type(original_node)):
            names = self._statements.pop()
            self.names[id(original_node)] = names
            if self._statements:
                self._statements[-1].update(names)
        leave = _hook(type(self), "leave_", type(original_node))
        if leave is not None:
            leave(self, original_node)

    def _assigned(self, target, value):
        self.values[id(target)] = value
        self._follow(target.value, value)

    def visit_Assign(self, node):
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self._assigned(target.target, node.value)

    def visit_AnnAssign(self, node):
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._assigned(node.target, node.value)

    def visit_NamedExpr(self, node):
        if isinstance(node.target, cst.Name):
            self._assigned(node.target, node.value)

    def visit_FunctionDef(self, node):
        self._functions.append(node)
        self.returns[id(node)] = []

    def leave_FunctionDef(self, node):
        self._functions.pop()

    def visit_Lambda(self, node):
        self._functions.append(node)

    def leave_Lambda(self, node):
        self._functions.pop()

    def visit_Import(self, node):
        self._imports += 1

    def leave_Import(self, node):
        self._imports -= 1

    def visit_ImportFrom(self, node):
        self._imports += 1

    def leave_ImportFrom(self, node):
        self._imports -= 1

    def visit_Return(self, node):
        self._statements[-1].add(_RETURN)
        if self._functions and isinstance(self._functions[-1], cst.FunctionDef) and node.value is not None:
            self.returns[id(self._functions[-1])].append(node.value)
            self._follow(self._functions[-1].name.value, node.value)

    def visit_ClassDef(self, node):
        for base in node.bases:
            self._follow(node.name.value, base.value)

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
                self._statements[-1].add(_FIT)
                if self._fstrings:
                    self.in_fstring.add(id(node))


class ModelOrigins:
    def __init__(self, wrapper):
        module = wrapper.module
        self._data = _Collector()
        self._data.collect(module)
        self.fit_calls = self._data.fit_calls
        self._module = module
        self._originals = {}  # id(statement whose body was pruned for the scope analysis) -> the statement as written
        self._fits_by_statement = {}  # see _fit_calls_by_line
        self._classes = {}  # ClassDef -> Origin of its instances (None: not a keras.Model subclass)

    @functools.cached_property
    def _scopes(self):
        """node -> libcst Scope, for the nodes the origins of the ``fit`` receivers can depend on.

        libcst's scope analysis costs two passes over the whole module; a script's ``fit`` calls depend on
        a fraction of it (a helper that prints a history, data loading...). It runs on a copy of the module
        that keeps only the statements naming something the origins are read from (``_wanted_names``):
        every binding of those names stays, so their scopes and bindings are those of the whole module.
        """
        wanted = _wanted_names(self._data)
        self._fits_by_statement = self._fit_calls_by_line()
        body = self._pruned_body(self._module.body, wanted, keep_returns=False)
        pruned = self._module.with_changes(body=body)
        return MetadataWrapper(pruned, unsafe_skip_copy=True).resolve(ScopeProvider)

    def _pruned_body(self, statements, wanted, keep_returns):
        """``statements`` less those that bind nothing ``wanted``, call no ``fit`` and (``keep_returns``: in a
        function whose returns are followed) return nothing; function and class bodies pruned alike."""
        kept = []
        for statement in statements:
            names = self._data.names.get(id(statement), {_FIT})
            needed = names & wanted or keep_returns and _RETURN in names  # for a binding or a followed return
            if not needed and _FIT not in names:
                continue
            if not needed and id(statement) in self._fits_by_statement:
                kept.append(self._receivers_only(statement))
                continue
            body = getattr(statement, "body", None)
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and isinstance(body, cst.IndentedBlock):
                returns = isinstance(statement, cst.FunctionDef) and statement.name.value in wanted
                inner = self._pruned_body(body.body, wanted, returns) or [cst.SimpleStatementLine([cst.Pass()])]
                if len(inner) != len(body.body) or any(a is not b for a, b in zip(inner, body.body)):
                    pruned = statement.with_changes(body=body.with_changes(body=inner))
                    self._originals[id(pruned)] = statement
                    statement = pruned
            kept.append(statement)
        return kept

    def _fit_calls_by_line(self):
        """id(line of simple statements) -> its fit calls, for the lines whose receivers can stand in for them:
        no fit call of the line inside a lambda or a comprehension (a scope of its own) or inside another."""
        fit_ids = {id(call) for call, _ in self.fit_calls}
        lines, unfit = {}, set()
        for call, _ in self.fit_calls:
            node, alone = self._data.parents.get(call), True
            while node is not None and not is_statement(type(node)):
                alone = alone and not isinstance(node, _NESTED_SCOPES) and id(node) not in fit_ids
                node = self._data.parents.get(node)
            if isinstance(node, cst.SimpleStatementLine):
                lines.setdefault(id(node), []).append(call)
                if not alone:
                    unfit.add(id(node))
        return {line: calls for line, calls in lines.items() if line not in unfit}

    def _receivers_only(self, line):
        """A stand-in for a line kept only for its fit calls: their receivers (the nodes the origins look up,
        in the same scope), without the arguments, which nothing asks the scopes about."""
        return cst.SimpleStatementLine([cst.Expr(call.func.value) for call in self._fits_by_statement[id(line)]])

    @functools.cached_property
    def positions(self):
        """node -> CodeRange (as libcst's ``PositionProvider``), computed for the statements asked about."""
        return positions_of(self._module, self._data.parents)

    @functools.cached_property
    def _flow(self):
        return Flow(self._data.parents, self.positions)

    def _keras_path(self, node):
        """The Keras path of the name ``node`` evaluates to (``"layers.Dense"``), or None."""
        scope = self._scopes.get(node)
        return keras_path(scope.get_qualified_names_for(node)) if scope is not None else None

    def _class_origin(self, node):
        """The ``Origin`` of the instances of class ``node``, or None when it is no ``keras.Model`` subclass."""
        if node not in self._classes:
            self._classes[node] = _class_origin(node, self._keras_path)
        return self._classes[node]

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
        kind = model_kind(self._keras_path(call.func))
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
                    elif isinstance(definition, cst.ClassDef) and self._class_origin(definition) is not None:
                        origins.append(self._class_origin(definition))
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
        scope = self._scopes.get(name)
        if scope is None:
            return []
        bindings = [_Binding(self._original(getattr(a, "node", None)), a.scope) for a in scope[name.value]]
        return self._flow.reaching(name, scope, bindings)

    def _original(self, node):
        """``node`` as written in the module (scopes were computed on a copy whose pruned bodies are new nodes)."""
        return self._originals.get(id(node), node)

    def _definitions(self, name):
        return [
            getattr(a, "node", None)
            for a in self._assignments(name)
            if isinstance(getattr(a, "node", None), (cst.FunctionDef, cst.ClassDef))
        ]


_HOOKS = {}  # (visitor class, "visit_" or "leave_", node type) -> the method, or None


def _hook(visitor, prefix, node_type):
    """``CSTVisitor``'s dispatch (``visit_Call`` for a Call node), looked up once per node type."""
    key = (visitor, prefix, node_type)
    if key not in _HOOKS:
        _HOOKS[key] = getattr(visitor, prefix + node_type.__name__, None)
    return _HOOKS[key]


def _in_visit_order(statement, calls):
    """``calls`` (nodes inside ``statement``) in the order ``CSTNode.visit`` meets them, the source's."""
    wanted = {id(call) for call in calls}
    order = []

    class _Order(cst.CSTVisitor):
        def visit_Call(self, node):
            if id(node) in wanted:
                order.append(node)

    statement.visit(_Order())
    return order


def _class_origin(node, keras_path_of):
    if not any(is_model_class(keras_path_of(base.value)) for base in node.bases):
        return None
    methods = {statement.name.value for statement in node.body.body if isinstance(statement, cst.FunctionDef)}
    if "train_step" in methods:
        return Origin("custom_train_step", f"{node.name.value} defines its own train_step")
    return Origin("subclass", f"an instance of {node.name.value}, a keras.Model subclass")


@dataclass(frozen=True)
class _Binding:
    """One of libcst's assignments of a name, its node mapped back to the module as written."""

    node: object  # None for a builtin
    scope: object


_NESTED_SCOPES = (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_FIT, _RETURN = " fit", " return"  # not identifiers: marks of a statement that calls fit / holds a return


def _may_bind(name, parent):
    """Whether the Name node ``name`` (child of ``parent``) can bind its name, outside an import.

    ``x`` in ``x.attr`` and ``x(...)``, an attribute's name and a keyword argument's name never do; any
    other position may (a target, a parameter, a ``global`` declaration...). Kept conservative: a
    statement is dropped from the scope analysis only when none of its names may bind a wanted name.
    """
    if isinstance(parent, cst.Attribute):
        return False
    if isinstance(parent, cst.Call):
        return parent.func is not name
    if isinstance(parent, cst.Arg):
        return parent.keyword is not name
    return True


def _wanted_names(data):
    """Every name whose bindings the origins of the ``fit`` receivers can be read from (a superset).

    ``ModelOrigins.origin`` looks up the bindings of a receiver's names, of the names of the callee of an
    assigned call (``keras.Model`` in ``model = keras.Model(...)``), of what a called function returns and
    of a called class's bases, and of the names assigned to a followed name; names are not told apart by
    scope here, which only adds to the set.
    """
    wanted = set()
    todo = [name for call, _ in data.fit_calls for name in _lookup_names(call.func.value)]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            for expression in data.follows.get(name, ()):
                todo.extend(_lookup_names(expression))
    return wanted


def _lookup_names(expression):
    """The names whose bindings libcst reads to resolve ``expression`` (as ``get_full_name_for_node`` spells it)."""
    if isinstance(expression, cst.Name):
        return [expression.value]
    if isinstance(expression, cst.Attribute):
        return [*_lookup_names(expression.value), expression.attr.value]
    if isinstance(expression, cst.Call):
        return _lookup_names(expression.func)
    if isinstance(expression, cst.Subscript):
        return _lookup_names(expression.value)
    return []


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
