"""Where an instrumented run spends its time, phase by phase, when ``DNN_INSTRUMENT_COSTS=path.json`` asks.

Off by default (then each ``measure`` is a no-op). ``make bench`` sets it to print a cost breakdown per benchmark
model, so that every change shows what it bought. The phases, in the order a run meets them:

- ``first step``: the first training step of each ``fit``: tracing the step with its probes, Grappler, the first run;
- ``steps``: every later step, with the callbacks between steps;
- ``transfer and journal``: the statistics of a block of steps brought to the host and appended to the journal;
- ``online analysis``: the checks that may stop a run (``analysis/online.py``);
- ``end of fit``: the analysis and report.json when a ``fit`` ends;
- ``views``: report.html and the TensorBoard events, when the process writes them itself (in a thread after each
  ``fit``: an interactive session, or ``DNN_INSTRUMENT_VIEWS_AT_EXIT=wait``);
- ``exit``: what the script waits for on its way out: starting the detached writer of the views, or (writing them
  itself) the views thread it has not finished;
- ``after exit``: the detached writer's time, from the script's end until the views are in place
  (``report/views.py``). The process has ended by then: this file cannot hold it; whoever waits for the views
  measures it (``bench/run.py`` does, before it starts the next run).

Seconds add up per phase over the whole process; the file is written when the process exits.
"""

import atexit
import json
import os
import time
from contextlib import contextmanager

#: The phases, in the order a run meets them (the docstring says what each one is).
PHASES = ("first step", "steps", "transfer and journal", "online analysis", "end of fit", "views", "exit", "after exit")

_path = os.environ.get("DNN_INSTRUMENT_COSTS")
_seconds = {}


def add(phase, seconds):
    if _path:
        _seconds[phase] = _seconds.get(phase, 0.0) + seconds


@contextmanager
def measure(phase):
    start = time.perf_counter()
    try:
        yield
    finally:
        add(phase, time.perf_counter() - start)


def _write():
    with open(_path, "w") as f:
        json.dump(_seconds, f, indent=1)


if _path:
    atexit.register(_write)  # registered first, so it runs last: after the session's own exit handler
