"""What every whole-script benchmark (``bench/scripts/*.py``) shares: the steady-state clock and the lines it prints.

``BENCH_STEPS=N`` switches a script from its own short run to a steady-state run of at least N steps (whole epochs
of the same data). The script then prints, on stderr, for ``bench/run.py``: ``FIT_SECONDS`` (its ``fit`` calls),
``STEP_SECONDS`` (steady runs: per step after the first epoch, tracing and compiling excluded), ``STEP_Q25_SECONDS``
(steady runs: per step in the lower quartile of those epochs, ``lower_quartile``), ``WEIGHTS`` (a
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
    """Seconds from the start of the second epoch to the end of the last: steady state (reports excluded); and the
    seconds of each of those epochs."""

    def __init__(self, samples, batch):
        super().__init__()
        self.steps_per_epoch = math.ceil(samples / batch)
        self.start = self.end = self.began = None
        self.epochs = 0
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.began = time.perf_counter()
        if epoch == 1:
            self.start = self.began

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = epoch + 1
        self.end = time.perf_counter()
        if epoch >= 1:
            self.epoch_seconds.append(self.end - self.began)

    def step_seconds(self):
        return (self.end - self.start) / (self.steps_per_epoch * (self.epochs - 1))

    def fast_step_seconds(self):
        return lower_quartile(self.epoch_seconds) / self.steps_per_epoch


def lower_quartile(values):
    """The value a quarter of the way up ``values`` sorted. On this 2-core machine whole epochs run at one of two
    speeds, plain and instrumented alike (Dense x80 with ``fit``: 4.3 or 6.3 ms per step); the mean of the epochs
    (``STEP_SECONDS``) moves with how many were slow, the lower quartile compares the fast ones (README, "Where the
    steady step goes")."""
    return sorted(values)[len(values) // 4]


def report(models, fit_seconds, clock=None):
    """Print the lines ``bench/run.py`` reads (see the module's docstring)."""
    print(f"FIT_SECONDS {fit_seconds:.4f}", file=sys.stderr)
    if clock is not None and STEPS and clock.start is not None:
        print(f"STEP_SECONDS {clock.step_seconds():.6f}", file=sys.stderr)
        print(f"STEP_Q25_SECONDS {clock.fast_step_seconds():.6f}", file=sys.stderr)
    checksum = sum(float(np.abs(w).astype("float64").sum()) for model in models for w in model.get_weights())
    print(f"WEIGHTS {checksum!r}", file=sys.stderr)
    print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
