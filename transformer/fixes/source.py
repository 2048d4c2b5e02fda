"""The file a fix edits: parsed once with libcst, queried by line, edited expression by expression.

Every codemod works the same way: find nodes (a layer call at the line a finding names, the ``compile``
and ``fit`` calls, an assignment), build replacement nodes, and ``Source.apply({old: new})`` prints the
module with only those nodes changed; every other byte of the file stays as it was.
"""

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

from ..keras_names import keras_path

#: ``optimizers.Adam``... for a string optimizer, and Keras's default learning rate of each.
OPTIMIZER_CLASSES = {
    "adam": ("Adam", 0.001),
    "sgd": ("SGD", 0.01),
    "rmsprop": ("RMSprop", 0.001),
    "adamw": ("AdamW", 0.001),
    "adagrad": ("Adagrad", 0.001),
    "adadelta": ("Adadelta", 0.001),
    "adamax": ("Adamax", 0.001),
    "nadam": ("Nadam", 0.001),
}


class Source:
    def __init__(self, code):
        self.code = code
        self.wrapper = MetadataWrapper(cst.parse_module(code))
        self.module = self.wrapper.module
        self.positions = self.wrapper.resolve(PositionProvider)
        self.scopes = self.wrapper.resolve(ScopeProvider)

    # --- queries -------------------------------------------------------------------------------
    def line(self, node):
        return self.positions[node].start.line

    def calls(self):
        """Every call of the file, in the order they start in the text."""
        calls = [node for node in self.positions if isinstance(node, cst.Call)]
        return sorted(calls, key=lambda c: (self.positions[c].start.line, self.positions[c].start.column))

    def keras(self, node):
        """The Keras path (``layers.Dense``) of the callee of a call, or of a name/attribute, or None."""
        target = node.func if isinstance(node, cst.Call) else node
        scope = self.scopes.get(target)
        return keras_path(scope.get_qualified_names_for(target)) if scope is not None else None

    def layer_calls_at(self, line):
        """The Keras layer constructors that start on ``line`` (``Dense(...)`` in ``model.add(Dense(...))``)."""
        return [c for c in self.layer_calls() if self.line(c) == line]

    def layer_calls(self):
        """The Keras layer constructors of the file (``Dense(10)`` in ``Dense(10)(x)``, not its application)."""
        return [
            c for c in self.calls() if not isinstance(c.func, cst.Call) and (self.keras(c) or "").startswith("layers.")
        ]

    def method_calls(self, method):
        return [c for c in self.calls() if isinstance(c.func, cst.Attribute) and c.func.attr.value == method]

    def fit_call(self, line=None):
        """The ``fit`` call at ``line`` (from a finding's ``fit`` site), else the last one in the file."""
        fits = self.method_calls("fit")
        at = [c for c in fits if line is not None and self.line(c) == line]
        return (at or fits[-1:] or [None])[0]

    def compile_call(self, fit=None):
        """The ``compile`` call of the model ``fit`` trains (same receiver text), else the last one."""
        compiles = self.method_calls("compile")
        if fit is not None:
            receiver = self.text(fit.func.value)
            same = [c for c in compiles if self.text(c.func.value) == receiver and self.line(c) <= self.line(fit)]
            if same:
                return same[-1]
        return (compiles[-1:] or [None])[0]

    def assignment_before(self, name, line):
        """The last statement line (at any depth) before ``line`` that assigns ``name``, or None."""
        found = None
        for node in self.positions:
            if isinstance(node, cst.SimpleStatementLine) and self.line(node) < line and name in _assigned(node):
                if found is None or self.line(node) > self.line(found):
                    found = node
        return found

    def statement_of(self, node):
        """The statement line holding ``node``."""
        lines = [
            n
            for n in self.positions
            if isinstance(n, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
            and self.positions[n].start.line <= self.line(node) <= self.positions[n].end.line
        ]
        simple = [n for n in lines if isinstance(n, cst.SimpleStatementLine)]
        return simple[0] if simple else None

    def numpy(self):
        """The name numpy is imported as (``np``), or None."""
        for statement in self._imports():
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    if _dotted(alias.name) == "numpy":
                        return alias.asname.name.value if alias.asname else "numpy"
        return None

    def string(self, value):
        """``value`` as a string literal in the quotes this file uses most."""
        quote = '"' if self.code.count('"') >= self.code.count("'") else "'"
        return f"{quote}{value}{quote}"

    def text(self, node):
        return self.module.code_for_node(node)

    # --- spelling of Keras names as this file imports them -----------------------------------------
    def spelling(self, path):
        """How this file can write Keras's ``path`` (``"optimizers.Adam"``): ``Adam``, ``optimizers.Adam``,
        ``keras.optimizers.Adam``, ``tf.keras.optimizers.Adam``... as its imports allow; None if they do not."""
        for statement in self._imports():
            if isinstance(statement, cst.ImportFrom) and not isinstance(statement.names, cst.ImportStar):
                base = _dotted(statement.module) if statement.module is not None else ""
                for alias in statement.names:
                    full = f"{base}.{_dotted(alias.name)}"
                    local = alias.asname.name.value if alias.asname else _dotted(alias.name)
                    for prefix in ("tensorflow.keras.", "keras."):
                        if (full + ".").startswith(prefix) or full + "." == prefix:
                            inside = full[len(prefix) :] if full.startswith(prefix) else ""
                            rest = path[len(inside) + 1 :] if inside and (path + ".").startswith(inside + ".") else None
                            if inside == "":
                                return f"{local}.{path}"
                            if rest is not None:
                                return f"{local}.{rest}" if rest else local
            elif isinstance(statement, cst.Import):
                for alias in statement.names:
                    full = _dotted(alias.name)
                    local = alias.asname.name.value if alias.asname else full
                    if full == "keras":
                        return f"{local}.{path}"
                    if full == "tensorflow":
                        return f"{local}.keras.{path}"
        return None

    def spelling_or_import(self, path):
        """``(spelling, edits)``: how to write Keras's ``path`` (``"layers.Rescaling"``), and the import edit it
        needs (``{}`` when the file's imports already reach it). A file that imports only names from a Keras
        module (``from keras.layers import Dense``) gets the new name added to that import. ``(None, {})``
        when neither works."""
        spelled = self.spelling(path)
        if spelled is not None:
            return spelled, {}
        module, _, name = path.rpartition(".")
        for statement in self._imports():
            if (
                isinstance(statement, cst.ImportFrom)
                and not isinstance(statement.names, cst.ImportStar)
                and statement.module
            ):
                base = _dotted(statement.module)
                if any(base == prefix + module for prefix in ("keras.", "tensorflow.keras.", "tf.keras.")):
                    names = list(statement.names)
                    if names[-1].comma is cst.MaybeSentinel.DEFAULT:
                        names[-1] = names[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                    return name, {
                        statement: statement.with_changes(names=[*names, cst.ImportAlias(name=cst.Name(name))])
                    }
        return None, {}

    def free_name(self, base):
        """``base`` or ``base_2``... a name the file does not use yet."""
        used = {n.value for n in self.positions if isinstance(n, cst.Name)}
        name, number = base, 1
        while name in used:
            number += 1
            name = f"{base}_{number}"
        return name

    def _imports(self):
        for statement in self.module.body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, (cst.Import, cst.ImportFrom)):
                        yield small

    # --- edits ---------------------------------------------------------------------------------
    def apply(self, replacements):
        """The module's code with each node of ``replacements`` (old -> new) replaced, all else untouched."""
        return self.module.visit(_Replace(replacements)).code


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements):
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):
        return self.replacements.get(original_node, updated_node)


def _assigned(statement):
    names = set()
    for small in statement.body:
        targets = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            targets = [small.target]
        for target in targets:
            elements = target.elements if isinstance(target, (cst.Tuple, cst.List)) else [target]
            for element in elements:
                value = element.value if isinstance(element, cst.BaseElement) else element
                if isinstance(value, cst.Subscript):  # X[57, 2] = np.nan changes X too
                    value = value.value
                if isinstance(value, cst.Name):
                    names.add(value.value)
    return names


def insert_after(statement, *lines):
    """A replacement for ``statement``: itself followed by the statements ``lines`` (source text)."""
    return cst.FlattenSentinel([statement, *(cst.parse_statement(line + "\n") for line in lines)])


def _dotted(node):
    if isinstance(node, cst.Name):
        return node.value
    return f"{_dotted(node.value)}.{node.attr.value}"


def expression(text):
    return cst.parse_expression(text)


def argument(call, keyword, position=None):
    """The ``Arg`` of ``call`` passed as ``keyword`` (or at ``position`` without a keyword), or None."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    if position is not None and position < len(positional):
        return positional[position]
    return None


def set_argument(call, keyword, value, position=None):
    """``call`` with argument ``keyword`` (or the positional one at ``position``) set to the expression ``value``."""
    value = expression(value) if isinstance(value, str) else value
    existing = argument(call, keyword, position)
    if existing is not None:
        return call.with_changes(args=[a.with_changes(value=value) if a is existing else a for a in call.args])
    new = cst.Arg(
        value=value,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )
    args = list(call.args)
    if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    elif args and isinstance(args[-1].comma, cst.Comma):  # a trailing comma: the new argument goes after it
        new = new.with_changes(comma=cst.Comma())
    return call.with_changes(args=[*args, new])


def remove_argument(call, keyword):
    """``call`` without its ``keyword=`` argument (the comma before it goes too when it was last)."""
    args = [a for a in call.args if not (a.keyword is not None and a.keyword.value == keyword)]
    if len(args) == len(call.args):
        return call
    last = call.args[-1]
    if (
        args
        and (last.keyword is not None and last.keyword.value == keyword)
        and last.comma is cst.MaybeSentinel.DEFAULT
    ):
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return call.with_changes(args=args)


def literal(node):
    """The Python value of a literal expression node (number, string, negative number), else None."""
    import ast

    try:
        return ast.literal_eval(cst.Module(body=[]).code_for_node(node))
    except (ValueError, SyntaxError):
        return None


def line_of(location):
    """``12`` from a finding's ``"train.py:12"``, else None."""
    if not location or ":" not in str(location):
        return None
    try:
        return int(str(location).rsplit(":", 1)[1])
    except ValueError:
        return None


def quoted(node, value):
    """``value`` as a string literal in the quotes of the string ``node`` (a ``SimpleString``)."""
    quote = node.quote if isinstance(node, cst.SimpleString) else '"'
    return cst.SimpleString(f"{quote}{value}{quote}")


def layers_named(source, finding, findings=(), cause=None):
    """The layer calls at the finding's line, and at the lines of the other findings of the same cause."""
    lines = {line_of(finding.get("source"))}
    lines |= {line_of(f.get("source")) for f in findings if f.get("cause") == (cause or finding.get("cause"))}
    calls = []
    for line in sorted(l for l in lines if l is not None):
        calls.extend(source.layer_calls_at(line))
    return calls


def with_same_argument(source, named, keyword):
    """The texts of ``keyword`` in the ``named`` layer calls, and every layer call of the file passing one of
    them (a setting written once per layer is meant for all): ``(texts, calls)``, empty when none has it."""
    texts = {source.text(argument(c, keyword).value) for c in named if argument(c, keyword) is not None}
    if not texts:
        return texts, []
    return texts, [
        c
        for c in source.layer_calls()
        if argument(c, keyword) is not None and source.text(argument(c, keyword).value) in texts
    ]
