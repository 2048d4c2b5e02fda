"""``instrument(source, path)``: the whole rewrite of one file, from text to text.

Pipeline (each step its own module): parse (libcst) -> find and classify ``fit`` calls (``fit_sites``,
``models``, ``keras_names``) -> rewrite (``rewrite``, ``templates/``) -> source map -> check that the
result compiles. The code is never imported or executed.
"""

import os
import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper

from .fit_sites import find_fit_sites
from .rewrite import rewrite

MARKER = "dnn_instrument"
_FIT_WORD = re.compile(r"\bfit\b")


class InstrumentError(Exception):
    """Input that cannot be instrumented: ``str(error)`` is ``path:line:col: message``."""

    def __init__(self, path, line, column, message):
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column, self.message = path, line, column, message


class InvalidSyntax(InstrumentError):
    """The input is not valid Python: running it, Python says why."""


class AlreadyInstrumented(InstrumentError):
    """The input is the output of dnn-instrument: it records by itself."""


@dataclass
class Message:
    line: int
    column: int
    text: str


@dataclass
class Result:
    code: str  # the instrumented source (equal to the input when nothing was instrumented)
    rewritten: int = 0  # fit calls replaced by the explicit loop
    with_callback: int = 0  # fit calls kept, with the Diagnose callback attached
    messages: list = field(default_factory=list)  # Message per call left alone or given the callback
    inserted: list = field(default_factory=list)  # 1-based inclusive line ranges of inserted code

    @property
    def changed(self):
        return bool(self.rewritten or self.with_callback)


def instrument(source, path="<stdin>", callback_only=False):
    """Instrument the Python ``source`` of file ``path``; raise ``InstrumentError`` for unusable input.

    ``callback_only``: keep every ``fit`` and attach the ``Diagnose`` callback instead of the explicit loop.
    """
    name = os.path.basename(path) if path not in ("-", "<stdin>") else "<stdin>"
    bom = "\ufeff" if source.startswith("\ufeff") else ""  # libcst drops it: put it back on the result
    _check_python_accepts(source[len(bom) :], path)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise InvalidSyntax(path, error.raw_line, error.raw_column + 1, f"syntax error: {error.message}") from None
    except (RecursionError, MemoryError):
        raise InstrumentError(path, 1, 1, "the file is too deeply nested to parse") from None
    if _already_instrumented(module):
        raise AlreadyInstrumented(
            path,
            1,
            1,
            "already instrumented by dnn-instrument (it imports dnn_instrument); instrument the original file",
        )
    try:
        return _instrument_module(module, source, path, name, bom, callback_only)
    except RecursionError:  # libcst's visitors and code generation recurse once per level of nesting
        raise InstrumentError(path, 1, 1, "the file is too deeply nested to analyse") from None


def _check_python_accepts(text, path):
    """Refuse what Python refuses (libcst accepts more: `return` outside a function, 1,000 nested brackets...)."""
    try:
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as error:  # IndentationError and TabError too
        raise InvalidSyntax(path, error.lineno or 1, error.offset or 1, f"syntax error: {error.msg}") from None
    except UnicodeEncodeError as error:  # lone surrogates: undecodable bytes read with surrogateescape
        raise InstrumentError(path, 1, 1, f"not UTF-8 text (undecodable byte at character {error.start})") from None
    except ValueError as error:  # null bytes (Python 3.11; a SyntaxError from 3.12)
        raise InstrumentError(path, 1, 1, f"not a Python source file ({error})") from None
    except (RecursionError, MemoryError):
        raise InstrumentError(path, 1, 1, "the file is too deeply nested to parse") from None


def _instrument_module(module, source, path, name, bom, callback_only):
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # read-only: rewriting builds new nodes
    # A `.fit` attribute is the word `fit` in the text: a file without it (most files) needs no scope analysis.
    sites = find_fit_sites(wrapper, callback_only) if _FIT_WORD.search(source) else []
    result = Result(
        code=source,
        rewritten=sum(site.action == "rewrite" for site in sites),
        with_callback=sum(site.action == "callback" for site in sites),
        messages=[Message(s.line, s.column, s.reason) for s in sites if s.action in ("callback", "skip")],
    )
    if not result.changed:
        return result
    rewritten, result.inserted = rewrite(wrapper.module, sites, name, source[len(bom) :])
    code = rewritten.code
    result.code = bom + code
    try:
        compile(code, path, "exec")  # compile() refuses a str that starts with a BOM
    except SyntaxError as error:  # a bug of ours: never hand out code that does not compile
        raise RuntimeError(f"dnn-instrument produced code that does not compile ({error}); please report it") from error
    return result


def _already_instrumented(module):
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Import) and any(
                    cst.Module([]).code_for_node(alias.name).split(".")[0] == MARKER for alias in small.names
                ):
                    return True
                if (
                    isinstance(small, cst.ImportFrom)
                    and small.module is not None
                    and (cst.Module([]).code_for_node(small.module).split(".")[0] == MARKER)
                ):
                    return True
    return False
