"""What every whole-script benchmark (``bench/scripts/*.py``) shares: the steady-state clock and the lines it prints.

``BENCH_STEPS=N`` switches a script from its own short run to a steady-state run of at least N steps (whole epochs
of the same data). The script then prints, on stderr, for ``bench/run.py``: ``FIT_SECONDS`` (its ``fit`` calls),
``STEP_SECONDS`` (steady runs: per step after the first epoch, tracing and compiling excluded), ``WEIGHTS`` (a
checksum of the final weights of its models) and ``PEAK_RSS_KB`` (the process's peak resident memory).
"""

import math
import os
import resource
import sys
import time

import keras
import numpy as np

STEPS = int(os.environ.get("BENCH_STEPS", "0"))


def epochs(samples, batch, short):
    """The epochs of a run: ``short`` (the script's own), or enough for BENCH_STEPS steps (2 at least)."""
    return max(2, math.ceil(STEPS / math.ceil(samples / batch))) if STEPS else short


class Clock(keras.callbacks.Callback):
    """Seconds from the start of the second epoch to the end of the last: steady state (reports excluded)."""

    def __init__(self, samples, batch):
        super().__init__()
        self.steps_per_epoch = math.ceil(samples / batch)
        self.start = self.end = None
        self.epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = epoch + 1
        self.end = time.perf_counter()

    def step_seconds(self):
        return (self.end - self.start) / (self.steps_per_epoch * (self.epochs - 1))


def report(models, fit_seconds, clock=None):
    """Print the lines ``bench/run.py`` reads (see the module's docstring)."""
    print(f"FIT_SECONDS {fit_seconds:.4f}", file=sys.stderr)
    if clock is not None and STEPS and clock.start is not None:
        print(f"STEP_SECONDS {clock.step_seconds():.6f}", file=sys.stderr)
    checksum = sum(float(np.abs(w).astype("float64").sum()) for model in models for w in model.get_weights())
    print(f"WEIGHTS {checksum!r}", file=sys.stderr)
    print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
