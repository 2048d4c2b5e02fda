"""``dnn-instrument``: rewrite Keras training scripts so that running them diagnoses their training.

Commands: ``dnn-instrument SOURCE...`` (instrument files or folders; ``--strip`` undoes it), ``run``
(instrument a script in memory and run it) and ``report`` (print a run folder's diagnosis again).

Exit codes: 0 done; 1 nothing could be instrumented (the messages say why and where); 2 usage error, or
input that cannot be read or parsed (``path:line:col: message``); 3 an internal error of dnn-instrument
(with a request to report it). Bad input never produces a traceback.
"""

import argparse
import os
import sys

from . import __version__
from .files import FileProblem
from .jobs import EXIT_USAGE, instrument_command, usage
from .reporting import report_command

DESCRIPTION = """\
Rewrite the model.fit calls of Keras scripts into an explicit tf.GradientTape training loop that trains
exactly the same and records every layer's outputs, gradients and updates. Run the result to train and
get a diagnosis.

commands:
  SOURCE...            instrument files (.py, Jupyter .ipynb), or every one in folders (the options below)
  run SCRIPT [ARG...]  instrument SCRIPT in memory and run it, as `python SCRIPT ARG...` would
  report RUN_DIR       print the diagnosis of a run folder again (--html: rewrite its report.html)
  fix SCRIPT [ARG...]  diagnose SCRIPT, patch its root cause and verify the patch by training it
  (`dnn-instrument run --help`, `dnn-instrument report --help` for theirs; a file named run: ./run)"""

EPILOG = """\
examples:
  dnn-instrument train.py -o train_instrumented.py && python train_instrumented.py
  dnn-instrument train.py --diff                  what would change; writes nothing
  dnn-instrument train.py --diff-html diff.html   the same side by side, each inserted line explained
  dnn-instrument src/ -o instrumented/            every .py file under src/, mirrored under instrumented/
  dnn-instrument --strip train_instrumented.py -o train.py   the original back, byte for byte
  dnn-instrument nb.ipynb -o nb_instrumented.ipynb   a notebook (or %load_ext dnn_instrument in it)
  dnn-instrument run train.py --epochs 3          instrument, train and diagnose in one go
  dnn-instrument run --fail-on-buggy train.py     in CI: exit status 4 when the verdict is buggy
  dnn-instrument report dnn-instrument-runs/train-20250101-120000 --html

exit status: 0 done; 1 nothing to instrument (or to strip); 2 usage error, unreadable or unparseable
input (path:line:col: message); 3 internal error"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="dnn-instrument",
        usage="%(prog)s [options] SOURCE [SOURCE ...]\n       %(prog)s run [--callback] [--fail-on-buggy] [--verbose] SCRIPT [ARG ...]\n"
        "       %(prog)s report [--html] [--json] [--wait] RUN_DIR\n       %(prog)s fix [options] SCRIPT [ARG ...]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="Python file, Jupyter notebook or folder ('-' reads standard input)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write the result to PATH (default: standard output); for several sources or a folder, "
        "PATH is a folder that mirrors them",
    )
    target.add_argument("--in-place", action="store_true", help="overwrite each source with its result")
    target.add_argument("--diff", action="store_true", help="print a unified diff of the changes; write nothing")
    parser.add_argument(
        "--diff-html",
        metavar="PATH",
        help="also write an HTML page showing the file and its instrumented copy side by side, "
        "with a note on each inserted or changed line (one source; alone, nothing else is written)",
    )
    parser.add_argument(
        "--strip",
        action="store_true",
        help="undo: turn instrumented files back into their originals, byte for byte (refused if edited since)",
    )
    parser.add_argument(
        "--callback",
        action="store_true",
        help="keep every fit call and attach the Diagnose callback instead of the explicit loop (sees less)",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="write to the file a symbolic link points to (default: refuse to write through a link)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the diff (default: auto, on a terminal; NO_COLOR is respected)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    options = _parser().parse_args(argv)
    try:  # refused writes through symbolic links end here
        return instrument_command(options)
    except FileProblem as problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE


def run_command(argv):
    parser = argparse.ArgumentParser(
        prog="dnn-instrument run",
        description="""\
Instrument SCRIPT in memory (nothing is written next to it) and run it with its ARGs as
`python SCRIPT ARG...` would: same sys.argv, __file__, sys.path[0] and exit status. Tracebacks and
findings name SCRIPT's own lines. The run folder and its report are written as by an instrumented
script; a script that cannot be instrumented runs unchanged, after a warning.""",
        epilog="example: dnn-instrument run train.py --epochs 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--callback", action="store_true", help="attach the Diagnose callback instead of the explicit loop"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-call messages")
    parser.add_argument(
        "--fail-on-buggy",
        action="store_true",
        help="exit with status 4 when the run's verdict is buggy, for CI (instrumented scripts: "
        "DNN_INSTRUMENT_FAIL_ON_BUGGY=1)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up log lines (absl, oneDNN), hidden by default (also shown with TF_CPP_MIN_LOG_LEVEL=0)",
    )
    parser.add_argument("script", metavar="SCRIPT", help="the Python script to run")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARG", help="its arguments")
    options = parser.parse_args(argv)
    if options.script == "-":
        return usage("run needs a script file, not standard input")
    if options.script.lower().endswith(".ipynb"):
        return usage(
            f"run executes Python scripts; for a notebook: dnn-instrument {options.script} -o OUT.ipynb, "
            "then run OUT.ipynb (or use %load_ext dnn_instrument in it)"
        )
    if options.fail_on_buggy:
        from .runtime import gate

        os.environ[gate.VARIABLE] = "1"  # checked when the process exits, after the last report
    if not options.verbose and os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() != "0":  # 0: the user asks for all
        from .quiet import hide_tensorflow_noise

        hide_tensorflow_noise()
    from .runner import run

    return run(options.script, options.arguments, callback_only=options.callback, quiet=options.quiet)


def fix_command(argv):
    from .fixing import fix_command as fix

    return fix(argv)


COMMANDS = {"run": run_command, "report": report_command, "fix": fix_command}

if __name__ == "__main__":
    sys.exit(main())
