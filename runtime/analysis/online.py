"""The analysis while training runs: decide, from the statistics already on the host, whether a fault is
*confirmed* and training should stop (``DNN_INSTRUMENT_STOP=fault``, the default; ``never`` trains on).

Confirmed means one of:
- a NaN or Inf was recorded: every later step would only spread it (checked on every block of steps);
- the loss has stopped falling (``loss_not_decreasing`` or ``oscillating_loss``) in ``CONFIRM_CHECKS``
  consecutive analyses, after at least ``CONFIRM_MIN_ITERATIONS`` iterations: a model that still learns
  is never stopped.

The analyses run at geometrically spaced iterations (``thresholds.CHECK_GROWTH``), so their total cost
stays proportional to the length of the run. The findings themselves are those of ``analysis.analyse``;
this module only decides *when* to look and when to stop.
"""

import os
import sys

import numpy as np

from .. import analysis
from . import thresholds
from .view import faults

STALLED = {"loss_not_decreasing", "oscillating_loss"}


def policy():
    value = os.environ.get("DNN_INSTRUMENT_STOP", "fault")
    return value if value in ("fault", "never") else "fault"


class Monitor:
    """Watches one ``fit``'s trace store; ``after(block)`` is called with each block of new statistics."""

    def __init__(self, model, store):
        from ..record.distributed import across_workers, strategy_of

        self.model, self.store = model, store
        # Across workers each one sees only its own replicas' statistics: one stopping alone would leave the
        # others waiting for it in their next all-reduce, so none stops (the report still has the findings).
        self.keep_training = across_workers(strategy_of(model))
        self.next_check = thresholds.CHECK_FIRST
        self.stalled_checks = 0

    def after(self, block):
        if policy() == "never" or self.keep_training or self.model.stop_training:
            return
        bad = faults(block, self.store.sites, self.store.facts.get("optimizer", {}))
        if bad.any():
            iteration = self.store.iterations - block.shape[0] + int(np.flatnonzero(bad.any(axis=1))[0])
            return self._stop(f"NaN/Inf recorded at iteration {iteration}")
        if self.store.iterations < self.next_check:
            return
        self.next_check = max(self.store.iterations + 1, int(self.store.iterations * thresholds.CHECK_GROWTH))
        findings = analysis.analyse(self.store)
        self.stalled_checks = self.stalled_checks + 1 if STALLED & {f["symptom"] for f in findings} else 0
        if (
            self.stalled_checks >= thresholds.CONFIRM_CHECKS
            and self.store.iterations >= thresholds.CONFIRM_MIN_ITERATIONS
        ):
            first = findings[0]
            where = f" in layer {first['layer']!r}" if first["layer"] else ""
            self._stop(
                f"the loss has not fallen in {self.store.iterations} iterations; most likely cause: "
                f"{first['symptom']}{where} (confirmed in {self.stalled_checks} analyses)"
            )

    def _stop(self, reason):
        self.store.stopped = reason  # for the report
        sys.stderr.write(f"\ndnn-instrument: {reason}; stopping training (set DNN_INSTRUMENT_STOP=never to train on)\n")
        self.model.stop_training = True
