"""``strip(code, path)``: the original source of an instrumented file, byte for byte (``dnn-instrument --strip``).

The inverse of ``rewrite``, checked against the fingerprint the header records:

1. the header says which lines were inserted (``watch(..., inserted=[...])``): the header itself, the
   generated loop and the blank lines around it. Those lines are removed;
2. each ``instrumented_fit('f.py:L', model, args)`` becomes ``model.fit(args)`` again, and each
   ``dnn_instrument.runtime.diagnosed(model.fit, 'f.py:L')(args)`` (the callback) ``model.fit(args)``;
3. the result must hash to the header's fingerprint of the original. A generator that was the only argument
   (``fit(g for g in x)``) gets parentheses in the rewrite, which the user could also have written: each such
   call is a two-way choice, and the combinations are tried until one hashes right.

A file edited after instrumenting (or whose fit call was written ``model .fit``, which the rewrite does
not keep) is refused rather than restored approximately.
"""

import ast
import itertools
import re

import libcst as cst

from .instrument import InstrumentError
from .rewrite import fingerprint

_HEADER = re.compile(r"import dnn_instrument\.runtime\.origins  # dnn-instrument: instrumented copy of ")
_FINGERPRINT = re.compile(r"#.*\bsha256 ([0-9a-f]{16})\b")
_LOOP_DEF = re.compile(r"def (\w+)\(site, model,")
_MAX_CHOICES = 10  # at most 2**10 candidate texts are hashed


class NotInstrumented(InstrumentError):
    """The file carries no dnn-instrument header: there is nothing to strip."""


class CannotRestore(InstrumentError):
    """The file was instrumented, but its original cannot be restored exactly."""


def is_instrumented(code):
    return _header_index(_lines(code)) is not None


def strip(code, path="<stdin>"):
    """The original source that ``code`` (an instrumented file) was made from.

    Raises ``NotInstrumented`` for a file dnn-instrument did not write, ``CannotRestore`` when the
    result would not be exactly the original (the file was edited after instrumenting).
    """
    bom = "\ufeff" if code.startswith("\ufeff") else ""  # kept by the rewrite, outside the fingerprint
    lines = _lines(code[len(bom) :])
    at = _header_index(lines)
    if at is None:
        raise NotInstrumented(
            path, 1, 1, "not instrumented by dnn-instrument (no dnn-instrument header); nothing to strip"
        )
    edited = CannotRestore(path, 1, 1, "the file was edited after instrumenting; cannot restore exactly")
    header = _read_header(lines[at + 1] if at + 1 < len(lines) else "")
    if header is None:
        raise edited
    source, inserted, wanted = header
    if wanted is None:
        why = "no fingerprint of the original in the header (an older dnn-instrument wrote it); cannot restore exactly"
        raise CannotRestore(path, 1, 1, why)
    removed = set()
    for first, last in inserted:
        if not 1 <= first <= last <= len(lines):
            raise edited
        removed.update(range(first, last + 1))
    if not {at + 1, at + 2} <= removed:
        raise edited
    loop_names = {m.group(1) for n in removed if (m := _LOOP_DEF.match(lines[n - 1]))}
    text = "".join(line for number, line in enumerate(lines, start=1) if number not in removed)
    try:
        module = cst.parse_module(text)
    except Exception:
        raise edited from None
    restored = _undo_calls(module, loop_names, source, wanted)
    if restored is None:
        raise edited
    return bom + restored


def _lines(text):
    """Lines split at ``\\n`` only, as the rewrite counts them (``str.splitlines`` also splits at form feeds)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _header_index(lines):
    for i, line in enumerate(lines):
        if _HEADER.match(line):
            return i
    return None


def _read_header(line):
    """``(source, inserted ranges, fingerprint or None)`` from the header's ``watch(...)`` line, or None."""
    try:
        statement = ast.parse(line).body[0]
        call = statement.value
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "dnn_instrument.runtime.origins.watch"
        source = ast.literal_eval(call.args[1])
        inserted = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "inserted"))
        assert isinstance(source, str) and all(isinstance(a, int) and isinstance(b, int) for a, b in inserted)
    except Exception:
        return None
    found = _FINGERPRINT.search(line)
    return source, sorted(inserted), found.group(1) if found else None


def _undo_calls(module, loop_names, source, wanted):
    """The module's code with the call edits undone, if it hashes to ``wanted`` (else None)."""
    first = _Undo(loop_names, source, ())
    code = module.visit(first).code
    if fingerprint(code) == wanted:
        return code
    # fit((g for g in x)): as the user wrote it, or parenthesised by the rewrite? Each such call is a choice.
    for choices in itertools.product((False, True), repeat=min(first.generators, _MAX_CHOICES)):
        if any(choices):
            code = module.visit(_Undo(loop_names, source, choices)).code
            if fingerprint(code) == wanted:
                return code
    return None


def _dotted(node):
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr.value}"
    return None


def _without_added_space(comma):
    """The whitespace after ``comma`` less the space the rewrite's ``", "`` put first, or None if it is not that."""
    if not isinstance(comma, cst.Comma) or not comma.whitespace_before.deep_equals(cst.SimpleWhitespace("")):
        return None
    after = comma.whitespace_after
    if isinstance(after, cst.SimpleWhitespace) and after.value.startswith(" "):
        return cst.SimpleWhitespace(after.value[1:])
    if isinstance(after, cst.ParenthesizedWhitespace) and after.first_line.whitespace.value.startswith(" "):
        first = after.first_line.with_changes(whitespace=cst.SimpleWhitespace(after.first_line.whitespace.value[1:]))
        return after.with_changes(first_line=first)
    return None


class _Undo(cst.CSTTransformer):
    """Undo ``_CallRewriter``."""

    def __init__(self, loop_names, source, unwrap):
        self.loop_names = loop_names
        self.unwrap = unwrap  # per sole generator argument met, in order: did the rewrite add its parentheses?
        self.generators = 0
        self.label = re.compile(re.escape(source) + r":\d+\Z")

    def _is_label(self, arg):
        if arg.keyword is not None or arg.star or not isinstance(arg.value, cst.SimpleString):
            return False
        try:
            value = ast.literal_eval(arg.value.value)
        except (ValueError, SyntaxError):
            return False
        return isinstance(value, str) and bool(self.label.match(value))

    def leave_Call(self, original_node, updated_node):
        args = list(updated_node.args)
        if isinstance(updated_node.func, cst.Name) and updated_node.func.value in self.loop_names:
            if len(args) >= 2 and self._is_label(args[0]) and args[1].keyword is None and not args[1].star:
                receiver = args[1]
                if len(args) > 2:  # the text around the dot was kept around the receiver's comma
                    comma = receiver.comma
                    after = _without_added_space(comma.with_changes(whitespace_before=cst.SimpleWhitespace("")))
                    dot = cst.Dot(
                        whitespace_before=comma.whitespace_before, whitespace_after=after or cst.SimpleWhitespace("")
                    )
                else:
                    dot = cst.Dot(whitespace_before=receiver.whitespace_after_arg)
                fit = cst.Attribute(value=receiver.value, dot=dot, attr=cst.Name("fit"))
                rest = args[2:]
                if len(rest) == 1 and isinstance(rest[0].value, cst.GeneratorExp):
                    if self.generators < len(self.unwrap) and self.unwrap[self.generators]:
                        rest = [rest[0].with_changes(value=rest[0].value.with_changes(lpar=[], rpar=[]))]
                    self.generators += 1
                return updated_node.with_changes(func=fit, args=rest)
            return updated_node
        wrapper = updated_node.func
        if (
            isinstance(wrapper, cst.Call)
            and _dotted(wrapper.func) == "dnn_instrument.runtime.diagnosed"
            and len(wrapper.args) == 2
            and wrapper.args[0].keyword is None
            and self._is_label(wrapper.args[1])
        ):
            return updated_node.with_changes(func=wrapper.args[0].value)
        return updated_node
