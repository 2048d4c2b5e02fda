"""``dnn-instrument run SCRIPT ARGS``: instrument a script in memory and run it as ``python SCRIPT ARGS`` would.

Nothing is written next to the script. The instrumented code runs as ``__main__`` with ``__file__``,
``sys.argv`` and ``sys.path[0]`` as Python sets them, and its exit status is the script's. Line numbers
are those of the user's file: the user's statements are compiled under its name with their original
lines (a traceback shows ``train.py, line 25`` and that line's text), and the generated loop under a
name of its own, ``<train.py instrumented by dnn-instrument>``, whose lines are those of
``dnn-instrument train.py``'s output. Layer origins then need no line map (``watch(..., inserted=[])``).
If the script cannot be instrumented, it runs unchanged, after a warning.
"""

import ast
import builtins
import linecache
import os
import sys
import traceback
import types

from .files import FileProblem, read_source


def warn(message):
    print(f"dnn-instrument: {message}", file=sys.stderr)


def run(script, arguments, callback_only=False, quiet=False, source=None):
    """Run ``script`` with ``arguments``, instrumented if possible; return its exit status.

    ``source``: run this text as if it were ``script``'s (``dnn-instrument fix`` runs its patches so).
    """
    try:
        source = read_source(script) if source is None else source
    except FileProblem as problem:
        print(problem, file=sys.stderr)
        return 2
    path = os.path.abspath(script)
    try:
        parts = _instrumented(source, script, path, callback_only, quiet)
    except Exception as error:  # never stop the user's run for our sake: run the script as it is
        warn(f"internal error while instrumenting {script} ({type(error).__name__}: {error}); running it unchanged")
        parts = None
    if parts is None:
        try:
            parts = [compile(source, path, "exec", dont_inherit=True)], None
        except SyntaxError as error:  # as Python reports it
            _print_exception(error.with_traceback(None))
            return 1
    codes, name = parts
    return _execute(codes, script, path, arguments, name)


def _instrumented(source, script, path, callback_only, quiet):
    """``([code objects], source name)`` to run for ``source`` instrumented, or None to run it unchanged."""
    from .transformer import AlreadyInstrumented, InstrumentError, InvalidSyntax, instrument

    try:
        result = instrument(source, script, callback_only=callback_only)
    except InstrumentError as error:
        if not isinstance(error, (AlreadyInstrumented, InvalidSyntax)):  # those: it records by itself,
            warn(f"{error}; running it unchanged")  # or Python says what is wrong with it
        return None
    if not quiet and not callback_only:
        for message in result.messages:
            print(f"{script}:{message.line}:{message.column}: {message.text}", file=sys.stderr)
    if not result.changed:
        warn(f"{script}: nothing to instrument; running it unchanged")
        return None
    return _compile(source, result, path), os.path.basename(script)


def _compile(source, result, path):
    """The generated loop and the user's statements, compiled apart (see the module docstring)."""
    tree = ast.parse(result.code, filename=path)
    new_lines = {n for first, last in result.inserted for n in range(first, last + 1)}
    generated = [s for s in tree.body if s.lineno in new_lines]
    tree.body = [s for s in tree.body if s.lineno not in new_lines]  # the header is replaced by _execute's watch
    old, new = source.split("\n"), result.code.split("\n")
    original = {}  # instrumented line -> original line, for the user's lines
    k = 0
    for number in range(1, len(new) + 1):
        if number not in new_lines:
            k += 1
            original[number] = k
    changed = {n for n, o in original.items() if o > len(old) or old[o - 1] != new[n - 1]}
    for node in ast.walk(tree):
        if hasattr(node, "lineno") and node.lineno is not None:
            _move(node, original, changed, old)
    loop_name = f"<{os.path.basename(path)} instrumented by dnn-instrument>"
    linecache.cache[loop_name] = (len(result.code), None, result.code.splitlines(keepends=True), loop_name)
    loops = [s for s in generated if isinstance(s, ast.FunctionDef)]
    codes = []
    if loops:
        codes.append(compile(ast.Module(body=loops, type_ignores=[]), loop_name, "exec", dont_inherit=True))
    codes.append(compile(tree, path, "exec", dont_inherit=True))
    return codes


def _move(node, original, changed, old):
    """Give ``node`` its line in the original file; on a rewritten line, its columns span the line's text
    (the columns of the rewritten text mean nothing in the original line a traceback shows)."""
    first, last = node.lineno, getattr(node, "end_lineno", None) or node.lineno
    node.lineno, node.end_lineno = original[first], original[last]
    if first in changed:
        text = old[node.lineno - 1] if node.lineno <= len(old) else ""
        node.col_offset = len(text.encode("utf-8")) - len(text.lstrip().encode("utf-8"))
    if last in changed and getattr(node, "end_col_offset", None) is not None:
        text = old[node.end_lineno - 1] if node.end_lineno <= len(old) else ""
        node.end_col_offset = len(text.rstrip().encode("utf-8"))
    if node.lineno == node.end_lineno and getattr(node, "end_col_offset", None) is not None:
        node.end_col_offset = max(node.end_col_offset, node.col_offset)


def _execute(codes, script, path, arguments, source_name):
    """Run ``codes`` in a fresh ``__main__`` as Python runs a script; return the exit status."""
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __builtins__=builtins, __cached__=None, __loader__=None, __spec__=None)
    if source_name is not None:
        import dnn_instrument.runtime.origins as origins

        origins.watch(path, source_name, inserted=[])  # the code carries the original lines already
        main.__dict__["dnn_instrument"] = sys.modules["dnn_instrument"]
    saved = sys.argv, sys.path[0] if sys.path else None, sys.modules.get("__main__")
    sys.argv = [script, *arguments]
    if sys.path:
        sys.path[0] = os.path.dirname(path)
    else:
        sys.path.append(os.path.dirname(path))
    sys.modules["__main__"] = main
    try:
        for code in codes:
            exec(code, main.__dict__)
    except SystemExit as end:
        return _exit_status(end.code)
    except BaseException as error:
        frames = error.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename == __file__:
            frames = frames.tb_next  # the user's frames only, as `python SCRIPT` shows
        _print_exception(error.with_traceback(frames))
        return 130 if isinstance(error, KeyboardInterrupt) else 1
    finally:
        sys.argv = saved[0]
        if saved[1] is not None:
            sys.path[0] = saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]
    return 0


def _print_exception(error):
    """As Python prints an uncaught exception, reading lines through ``linecache`` (which holds the loop's)."""
    if sys.excepthook is sys.__excepthook__:
        traceback.print_exception(error)
    else:
        sys.excepthook(type(error), error, error.__traceback__)


def _exit_status(code):
    """What ``sys.exit(code)`` makes the process return."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
