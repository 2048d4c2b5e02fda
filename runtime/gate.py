"""``--fail-on-buggy`` (``DNN_INSTRUMENT_FAIL_ON_BUGGY=1``): a run whose verdict is ``buggy`` exits with status 4,
so that a CI job can gate a training run (as ``coverage report --fail-under`` gates tests).

Checked when the process exits, after every ``fit`` is closed and the report written: the verdict is that
of the whole run. Only ``buggy`` fails (not ``ok``, nor a milder level). The status replaces the script's own,
except after Ctrl-C, whose exit by SIGINT is kept.
"""

import logging
import os
import sys

VARIABLE = "DNN_INSTRUMENT_FAIL_ON_BUGGY"
EXIT_BUGGY = 4


def wanted():
    return os.environ.get(VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def at_exit(verdict, folder):
    """End the process with ``EXIT_BUGGY`` if asked and the run's ``verdict`` is ``buggy``."""
    if not wanted() or verdict != "buggy":
        return
    last = getattr(sys, "last_type", None)
    if last is not None and issubclass(last, KeyboardInterrupt):  # Ctrl-C's exit status (SIGINT) says more
        return
    sys.stderr.write(f"dnn-instrument: verdict BUGGY; exit status {EXIT_BUGGY} ({VARIABLE} is set; report: {folder})\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    logging.shutdown()
    os._exit(EXIT_BUGGY)  # from an exit handler, the only way to change the status
