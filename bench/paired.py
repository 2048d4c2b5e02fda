"""Steady step time of a benchmark program and of its instrumented copy, in one process, alternately.

``python bench/paired.py PROGRAM INSTRUMENTED --rounds N`` runs the two scripts in turn, N times each, in one Python
process (``runpy``, as ``__main__``, with ``keras.backend.clear_session()`` between runs), and prints on a line of its
own, after ``PAIRED``, as JSON: each run's ``STEP_SECONDS`` (the per-step time after the first epoch, which the scripts
print; tracing excluded) and the ratio of the two sides' medians.

Why: on a 2-core machine the same script's steady step moves by a third from one process to the next, so a median of
three to five whole processes each way (``bench/run.py``, ``side_by_side``: what a user's ``python train.py`` pays)
cannot tell 1.05x from 1.00x. Here no process start, import or exit is between two runs, each run is short (so more
of them fit), and the order alternates (plain first in even rounds): both sides see the same conditions, and the
ratio is what instrumenting adds to the steady step. That halves the spread, no more (README, "How far one run can
be trusted"): a run still lands fast or slow with the load of the moment.
"""

import argparse
import contextlib
import gc
import io
import json
import runpy
import statistics
import sys

ROUNDS = 8  # runs of each script (``bench/run.py``'s ``PAIRED_ROUNDS``)


def printed_values(text):
    """The ``KEY value`` lines of a benchmark program's stderr (``FIT_SECONDS 1.23``...) as a dict of floats."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key.isupper() and key.replace("_", "").isalnum():
            try:
                values[key] = float(value)
            except ValueError:
                pass
    return values


def step_seconds(script):
    """Run ``script`` as ``__main__`` in this process; the ``STEP_SECONDS`` it prints on stderr."""
    captured = io.StringIO()
    argv = sys.argv
    sys.argv = [script]
    try:
        with contextlib.redirect_stderr(captured):
            runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = argv
    values = printed_values(captured.getvalue())
    if "STEP_SECONDS" not in values:
        raise RuntimeError(f"{script} printed no STEP_SECONDS:\n{captured.getvalue()[-2000:]}")
    return values["STEP_SECONDS"]


def paired(program, instrumented, rounds):
    """Both scripts ``rounds`` times each, alternately (the plain one first in even rounds, last in odd ones)."""
    import keras

    times = {"plain": [], "instrumented": []}
    scripts = {"plain": program, "instrumented": instrumented}
    for number in range(rounds):
        order = ("plain", "instrumented") if number % 2 == 0 else ("instrumented", "plain")
        for side in order:
            times[side].append(step_seconds(scripts[side]))
            keras.backend.clear_session()
            gc.collect()
    plain, probed = statistics.median(times["plain"]), statistics.median(times["instrumented"])
    return {**times, "step_seconds_ratio": probed / plain}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("program")
    parser.add_argument("instrumented")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    arguments = parser.parse_args()
    result = paired(arguments.program, arguments.instrumented, arguments.rounds)
    print("PAIRED", json.dumps(result), flush=True)  # a line of its own: the scripts and the runtime print too


if __name__ == "__main__":
    main()
