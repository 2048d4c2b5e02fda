"""Waiting for the report views that instrumented scripts leave to a detached writer when they end
(``runtime/report/views.py``), so that no writer overlaps the next measured run nor outlives its temporary folder.
The seconds waited are the runs' ``after exit`` time, printed as a phase of its own (``runtime/costs.py``)."""

import sys
import time
from pathlib import Path


def wait_for_writers(root):
    """Wait for the views of every run folder under ``root`` (a ``DNN_INSTRUMENT_DIR``); the seconds waited.
    A writer that failed is said on stderr (the benchmark goes on: its numbers are still those of the runs)."""
    from dnn_instrument.runtime.report import wait_for_views

    start = time.perf_counter()
    for folder in sorted(Path(root).iterdir()) if Path(root).is_dir() else ():
        why = wait_for_views(folder)
        if why:
            print(f"bench: {folder.name}: {why}", file=sys.stderr)
    return time.perf_counter() - start
