"""``dnn-instrument report RUN_DIR``: a run folder read back, analysed again and reported (also used by ``fix``)."""

import argparse
import json
import os
import sys

from .jobs import EXIT_OK, usage


def report_command(argv):
    parser = argparse.ArgumentParser(
        prog="dnn-instrument report",
        description="""\
Read a run folder back (its traces: trace-N.npz, or the journal trace-N.json/.rows of a run that
was killed), analyse it again and print the diagnosis.
The script's name comes from RUN_DIR/report.json, else from the folder's name.""",
        epilog="example: dnn-instrument report dnn-instrument-runs/train-20250101-120000 --html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", metavar="RUN_DIR", help="a run folder, as printed at the end of a run")
    parser.add_argument("--html", action="store_true", help="also (re)write RUN_DIR/report.html")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the text one")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="first wait until the views the run's script left to write in the background (report.html, "
        "TensorBoard events) are written",
    )
    options = parser.parse_args(argv)
    folder = options.folder
    if not os.path.isdir(folder):
        return usage(f"{folder}: no such run folder")
    if not any(name.startswith("trace-") and name.endswith((".npz", ".json", ".rows")) for name in os.listdir(folder)):
        return usage(f"{folder}: no traces (trace-N.npz, trace-N.rows) here; is it a run folder?")
    from .runtime import report, session  # imports TensorFlow: after the checks

    try:
        stores = session.load(folder)
    except Exception as error:
        return usage(f"{folder}: cannot read its traces ({type(error).__name__}: {error})")
    try:  # the views a script leaves to a detached writer: in place, being written, or why not
        views = report.wait_for_views(folder) if options.wait else report.views.state(folder)
    except TimeoutError as error:
        views = str(error)
    if views:
        hint = "" if options.wait or "being written" not in views else " (--wait waits for them)"
        print(f"dnn-instrument: {views}{hint}", file=sys.stderr)
    document = report.build(_script_of(folder), stores)
    if options.json:
        print(json.dumps(document, indent=1, default=_plain))
    else:
        sys.stdout.write(report.terminal.render(document, folder).lstrip("\n"))
    if options.html:
        path = report.write_all(folder, document, stores, formats=("html",))["html"]
        print(f"dnn-instrument: HTML report written -> {path}", file=sys.stderr)
    return EXIT_OK


def _plain(value):
    """JSON for the numpy scalars of traces read back from disk."""
    return value.item() if hasattr(value, "item") else str(value)


def _script_of(folder):
    """The script a run folder is of: as its report.json says, else the folder's name."""
    try:
        with open(os.path.join(folder, "report.json"), encoding="utf-8") as f:
            script = json.load(f).get("script")
        if isinstance(script, str) and script:
            return script
    except (OSError, ValueError, AttributeError):
        pass
    return os.path.basename(os.path.normpath(os.path.abspath(folder)))
