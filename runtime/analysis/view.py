"""``TraceView``: the questions rules ask of a trace, answered once (series per layer and phase)."""

import functools
import math

import numpy as np

from ..stats import COLUMN
from . import thresholds


#: The phases a loss-scaling optimizer sees overflow in, and skips the step for (mixed precision).
SCALED = {"backward", "gradient"}


def faults(values, sites, optimizer, statistics=False):
    """``[rows, sites]``: where a NaN or Inf is a fault; with ``statistics``, also where a statistic itself is
    not finite (a sum that overflowed), which makes the row unreadable even without a NaN/Inf element.

    With mixed precision's ``LossScaleOptimizer`` a gradient that overflows makes the optimizer skip the
    step and lower the loss scale, on purpose: NaN/Inf in the backward pass of a step whose forward pass,
    loss and weights are all finite is that, not a fault.
    """
    bad = (values[:, :, COLUMN["frac_nan"]] > 0) | (values[:, :, COLUMN["frac_inf"]] > 0)
    if statistics:
        bad |= ~np.isfinite(values).all(axis=2)
    if optimizer.get("class") == "LossScaleOptimizer" and bad.size:
        scaled = np.isin([s["phase"] for s in sites], list(SCALED))
        skipped = ~(bad & ~scaled[None, :]).any(axis=1)
        bad[skipped] = False
    return bad


def _window(length):
    return max(thresholds.MIN_WINDOW, int(math.ceil(length * thresholds.LATE_FRACTION)))


class TraceView:
    def __init__(self, trace):
        self.trace = trace
        self.all_values = trace.values
        # Rules about training read only the iterations before the first NaN/Inf: after it every statistic
        # is poisoned (ReLU(NaN) even reads as a dead unit). The numerical rule reads ``all_values``.
        optimizer = trace.facts.get("optimizer", {})
        self.bad = faults(self.all_values, trace.sites, optimizer)  # NaN/Inf elements: where one is born
        broken = np.flatnonzero(faults(self.all_values, trace.sites, optimizer, statistics=True).any(axis=1))
        self.values = self.all_values[: broken[0]] if broken.size else self.all_values
        self.iterations = self.values.shape[0]
        self.layers = trace.facts["layers"]
        self.losses = trace.facts["losses"]
        self.optimizer = trace.facts["optimizer"]
        self._rows = {}
        for i, site in enumerate(trace.sites):
            self._rows.setdefault((site["phase"], site["layer_index"]), []).append(i)

    # -- series ------------------------------------------------------------------------------------
    def rows(self, phase, layer_index=None):
        return self._rows.get((phase, layer_index), [])

    def series(self, phase, stat, layer_index=None):
        """One statistic over iterations for the (first) site of ``phase``/``layer``, or None."""
        rows = self.rows(phase, layer_index)
        return self.values[:, rows[0], COLUMN[stat]] if rows else None

    def norm(self, phase, layer_index):
        """The L2 norm over all of a layer's weights (``gradient``, ``weight`` or ``update``), per iteration."""
        rows = self.rows(phase, layer_index)
        if not rows:
            return None
        return np.sqrt(np.sum(self.values[:, rows, COLUMN["norm"]].astype(np.float64) ** 2, axis=1))

    def weighted_layers(self):
        """Indices of layers with trainable weights, in model order."""
        return [layer["index"] for layer in self.layers if self.rows("weight", layer["index"])]

    def late(self, series):
        """The last part of a series, where a trained state shows (see thresholds.LATE_FRACTION)."""
        if series is None or len(series) == 0:
            return series
        return series[-_window(len(series)) :]

    def early(self, series):
        """The first part of a series, as long as ``late``."""
        return series[: _window(len(series))]

    def update_ratio(self, layer_index):
        """A layer's update/weight norm ratio per iteration (None when it has no weights)."""
        update, weight = self.norm("update", layer_index), self.norm("weight", layer_index)
        if update is None:
            return None
        return update / np.maximum(weight, 1e-12)

    @functools.cached_property
    def early_update_ratio(self):
        """The largest layer's median update/weight ratio over the first steps (thresholds.FIRST_STEPS)."""
        ratios = []
        for index in self.weighted_layers():
            first = self.update_ratio(index)[: thresholds.FIRST_STEPS]
            first = first[np.isfinite(first)]
            if first.size:
                ratios.append(float(np.median(first)))
        return max(ratios) if ratios else math.nan

    def epoch_of(self, row):
        epochs = self.trace.epochs
        return int(epochs[row]) if 0 <= row < len(epochs) else 0

    def iteration_of(self, row):
        """The iteration a row of the trace starts at (rows of long runs can stand for several, see trace.py)."""
        at = self.trace.row_iterations
        return int(at[row]) if 0 <= row < len(at) else int(row)

    # -- configuration -----------------------------------------------------------------------------
    @property
    def output_layer(self):
        candidates = [layer for layer in self.layers if layer["weights"] or layer["activation"]]
        return candidates[-1] if candidates else None

    @property
    def loss_names(self):
        return [loss["name"] for loss in self.losses]

    # -- findings ----------------------------------------------------------------------------------
    def finding(self, symptom, cause, phase, fix, evidence, layer_index=None, iteration=0):
        """A finding; ``iteration`` is the row of the trace where the symptom is first seen."""
        layer = self.layers[layer_index] if layer_index is not None and layer_index < len(self.layers) else None
        return {
            "symptom": symptom,
            "layer": layer["name"] if layer else None,
            "layer_index": layer_index,
            "source": layer["source"] if layer else None,
            "phase": phase,
            "iteration": self.iteration_of(int(iteration)),
            "epoch": self.epoch_of(int(iteration)),
            "cause": cause,
            "fix": fix,
            "evidence": evidence,
        }

    def where(self, layer_index):
        """``layer `dense_2` (train.py:14)`` for messages."""
        layer = self.layers[layer_index]
        return f"layer `{layer['name']}`" + (f" ({layer['source']})" if layer["source"] else "")
