"""``dnn-instrument``: rewrite a Keras training script so that running it diagnoses its training.

Exit codes: 0 done; 1 nothing in the file could be instrumented (the messages say why and where);
2 usage error, or input that cannot be read or parsed (``path:line:col: message``); 3 an internal
error of dnn-instrument (with a request to report it). Bad input never produces a traceback.
"""

import argparse
import os
import sys
import tempfile

from . import __version__

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _parser():
    parser = argparse.ArgumentParser(
        prog="dnn-instrument",
        description=(
            "Rewrite the model.fit calls of a Keras script into an explicit tf.GradientTape training loop "
            "that trains exactly the same and records every layer's outputs, gradients and updates. "
            "Run the result to train and get a diagnosis."
        ),
        epilog="example: dnn-instrument train.py -o train_instrumented.py && python train_instrumented.py",
    )
    parser.add_argument("source", help="the Python file to instrument ('-' reads standard input)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", help="write the instrumented script here (default: standard output)")
    target.add_argument("--in-place", action="store_true", help="overwrite the source file with the instrumented script")
    target.add_argument("--diff", action="store_true", help="print a unified diff of the changes; write nothing")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help="colour the diff (default: auto; NO_COLOR is respected)"
    )
    parser.add_argument(
        "--callback", action="store_true",
        help="keep every fit call and attach the Diagnose callback instead of the explicit loop (sees less)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print no per-call messages")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _read(path):
    if path == "-":
        return sys.stdin.read()
    if os.path.isdir(path):
        raise OSError(f"{path}: is a directory")
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        raise OSError(f"{path}:1:1: not a Python source file (binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OSError(f"{path}:1:1: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".dnn-instrument-", suffix=".py")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main(argv=None):
    arguments = _parser().parse_args(argv)
    from .transformer import InstrumentError, instrument
    from .transformer.diff import colourise, unified_diff, use_colour

    path = arguments.source
    if arguments.in_place and path == "-":
        print("dnn-instrument: --in-place needs a file, not standard input", file=sys.stderr)
        return EXIT_USAGE
    if arguments.output and path != "-" and os.path.exists(arguments.output) and os.path.samefile(arguments.output, path):
        print(f"dnn-instrument: {arguments.output} is the input file; use --in-place to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    try:
        source = _read(path)
    except FileNotFoundError:
        print(f"{path}:1:1: no such file", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        message = str(error) if str(error).startswith(path) else f"{path}:1:1: cannot read: {error.strerror or error}"
        print(message, file=sys.stderr)
        return EXIT_USAGE
    try:
        result = instrument(source, path, callback_only=arguments.callback)
    except InstrumentError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE if "already instrumented" not in error.message else EXIT_NOTHING
    except Exception as error:  # our bug, not the user's: say so plainly
        print(f"dnn-instrument: internal error on {path}: {type(error).__name__}: {error}", file=sys.stderr)
        print("please report this with the file that caused it", file=sys.stderr)
        return EXIT_INTERNAL

    if not arguments.quiet:
        for message in result.messages if not arguments.callback else []:
            print(f"{path}:{message.line}:{message.column}: {message.text}", file=sys.stderr)
    if not result.changed:
        why = "no Keras model.fit call found" if not result.messages else "no model.fit call could be instrumented"
        print(f"{path}: nothing to instrument: {why}", file=sys.stderr)
        return EXIT_NOTHING

    if arguments.diff:
        text = unified_diff(source, result.code, path)
        sys.stdout.write(colourise(text) if use_colour(arguments.color, sys.stdout) else text)
    elif arguments.in_place:
        _write_atomically(path, result.code)
    elif arguments.output:
        _write_atomically(arguments.output, result.code)
    else:
        sys.stdout.write(result.code)
    if not arguments.quiet and (arguments.in_place or arguments.output):
        print(
            f"{path}: {result.rewritten} fit call(s) rewritten as an explicit loop, "
            f"{result.with_callback} given the Diagnose callback -> {arguments.output or path}",
            file=sys.stderr,
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
