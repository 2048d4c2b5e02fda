"""``TraceView``: the questions rules ask of a trace, answered once (series per layer and phase)."""

import functools
import math

import numpy as np

from ..vocabulary import COLUMN, PHASE, STATS, measures_of, unmeasured
from . import thresholds

#: The phases a loss-scaling optimizer sees overflow in, and skips the step for (mixed precision).
SCALED = {"backward", "gradient"}


def faults(values, sites, optimizer, statistics=False):
    """``[rows, sites]``: where a NaN or Inf is a fault; with ``statistics``, also where a statistic that the site
    measures (``vocabulary.PHASES``) is not finite (a sum that overflowed), which makes the row unreadable even
    without a NaN/Inf element.

    With mixed precision's ``LossScaleOptimizer`` a gradient that overflows makes the optimizer skip the
    step and lower the loss scale, on purpose: NaN/Inf in the backward pass of a step whose forward pass,
    loss and weights are all finite is that, not a fault.
    """
    bad = (values[:, :, COLUMN["frac_nan"]] > 0) | (values[:, :, COLUMN["frac_inf"]] > 0)
    if statistics:
        left_out = np.array(unmeasured(measures_of(sites)), bool).reshape(len(sites), len(STATS))  # NaN says nothing
        bad |= ~(np.isfinite(values) | left_out).all(axis=2)
    if optimizer.get("class") == "LossScaleOptimizer" and bad.size:
        scaled = np.isin([s["phase"] for s in sites], list(SCALED))
        skipped = ~(bad & ~scaled[None, :]).any(axis=1)
        bad[skipped] = False
    return bad


def _window(length):
    return max(thresholds.MIN_WINDOW, int(math.ceil(length * thresholds.LATE_FRACTION)))


#: Layers that pass their input on unchanged in kind (no weights, no nonlinearity).
PASS_THROUGH = {
    "Dropout",
    "Flatten",
    "Reshape",
    "GaussianNoise",
    "AlphaDropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianDropout",
    "ActivityRegularization",
}
PROBABILISTIC = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "squared_hinge",
    "kl_divergence",
    "kld",
    "poisson",
}


def task_type(loss, activation, units, targets=None, from_logits=False):
    """What is learned, from the loss first, then the output activation and the targets:

    - sparse/categorical cross-entropy: ``multiclass``;
    - binary cross-entropy: ``binary`` with one output unit, ``multilabel`` with several;
    - a regression loss (MSE, MAE, ...): ``regression``, unless the output is a softmax/sigmoid over targets in
      [0, 1] (a classifier trained with MSE: still a classification, of the kind its output says);
    - any other (custom) loss: from the output (softmax: multiclass; sigmoid: binary/multilabel), else None.
    """
    from ..record.facts import REGRESSION_LOSSES

    loss = (loss or "").lower()
    units = units or 1
    in_unit_range = targets is not None and targets[0] >= 0 and targets[1] <= 1
    if "sparse_categorical" in loss or loss.startswith("categorical"):
        return "multiclass"
    if loss.startswith("binary"):
        return "binary" if units == 1 else "multilabel"
    by_output = {"softmax": "multiclass", "sigmoid": "binary" if units == 1 else "multilabel"}.get(activation)
    if loss in REGRESSION_LOSSES:
        return by_output if by_output and in_unit_range else "regression"
    return by_output


def _target_range(view):
    minimum, maximum = view.series("target", "min"), view.series("target", "max")
    if minimum is None or len(minimum) == 0:
        return None
    finite_min, finite_max = minimum[np.isfinite(minimum)], maximum[np.isfinite(maximum)]
    if finite_min.size == 0 or finite_max.size == 0:
        return None
    return float(finite_min.min()), float(finite_max.max())


class TraceView:
    def __init__(self, trace):
        self.trace = trace
        self.all_values = trace.values
        # Rules about training read only the iterations before the first NaN/Inf: after it every statistic
        # is poisoned (ReLU(NaN) even reads as a dead unit). The numerical rule reads ``all_values``.
        optimizer = trace.facts.get("optimizer", {})
        self.bad = faults(self.all_values, trace.sites, optimizer)  # NaN/Inf elements: where one is born
        broken = faults(self.all_values, trace.sites, optimizer, statistics=True)
        if self.loss_unreported:  # a train_step returning d_loss/g_loss, no `loss`: the callback read NaN for it
            unknown = [i for i, site in enumerate(trace.sites) if site["phase"] == "loss"]
            self.bad[:, unknown] = False
            broken[:, unknown] = False
        broken = np.flatnonzero(broken.any(axis=1))
        self.values = self.all_values[: broken[0]] if broken.size else self.all_values
        self.iterations = self.values.shape[0]
        self.layers = trace.facts["layers"]
        self.losses = trace.facts["losses"]
        self.optimizer = trace.facts["optimizer"]
        self._rows = {}
        for i, site in enumerate(trace.sites):
            self._rows.setdefault((site["phase"], site["layer_index"]), []).append(i)

    @property
    def loss_unreported(self):
        """The callback reads ``logs["loss"]``; a train_step that reports other keys only has no loss to read."""
        logs = self.trace.epoch_logs
        return (
            getattr(self.trace, "mechanism", "loop") == "callback"
            and bool(logs)
            and not any("loss" in epoch for epoch in logs)
        )

    # -- series ------------------------------------------------------------------------------------
    def rows(self, phase, layer_index=None):
        return self._rows.get((phase, layer_index), [])

    def series(self, phase, stat, layer_index=None):
        """One statistic over iterations for the (first) site of ``phase``/``layer``, or None."""
        if stat not in PHASE[phase].measures:  # a rule that reads it: measure it first (vocabulary.PHASES)
            raise ValueError(f"the {phase} phase does not measure {stat!r}")
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
        """The layer making the (first) output: from the model's outputs when known, else the last layer with
        weights or an activation."""
        outputs = self.trace.facts.get("outputs") or []
        if outputs and outputs[0].get("layer_index") is not None and len(outputs) == 1:
            return self.layers[outputs[0]["layer_index"]]
        candidates = [layer for layer in self.layers if layer["weights"] or layer["activation"]]
        return candidates[-1] if candidates else None

    def output_layers(self):
        """The layers that make the model's outputs (several for a multi-output model)."""
        outputs = [o["layer_index"] for o in self.trace.facts.get("outputs") or [] if o.get("layer_index") is not None]
        if outputs:
            return [self.layers[i] for i in outputs]
        return [self.output_layer] if self.output_layer else []

    def output_loss_pairs(self):
        """``(output layer, loss)`` for each loss whose output is known: by name (a dict of losses) or by the
        order of the model's outputs (a list); one output and one loss pair up."""
        outputs = self.trace.facts.get("outputs") or []
        by_name = {o["name"]: o["layer_index"] for o in outputs if o.get("layer_index") is not None}
        pairs = []
        for loss in self.losses:
            if loss.get("output") in by_name:
                pairs.append((self.layers[by_name[loss["output"]]], loss))
        if not pairs and len(self.losses) == 1 and len(self.output_layers()) == 1:
            pairs.append((self.output_layers()[0], self.losses[0]))
        return pairs

    def feeds(self, index):
        """The layers that read layer ``index``'s output (from the model's graph; the next layer when unknown)."""
        if any(layer.get("inbound") for layer in self.layers):
            return [layer for layer in self.layers if index in (layer.get("inbound") or [])]
        return self.layers[index + 1 : index + 2]

    def fed_by(self, index):
        layer = self.layers[index]
        if any(l.get("inbound") for l in self.layers):
            return [self.layers[i] for i in layer.get("inbound") or []]
        return self.layers[index - 1 : index] if index > 0 else []

    def owner(self, index):
        """The layer whose activation a weightless activation layer (``Activation('relu')``, ``ReLU()``) is:
        the weighted layer that feeds it (through pass-through layers); else the layer itself."""
        start, layer = index, self.layers[index]
        seen = set()
        while not layer["weights"] and index not in seen:
            seen.add(index)
            before = self.fed_by(index)
            if len(before) != 1:
                return start
            index, layer = before[0]["index"], before[0]
        return index if layer["weights"] else start

    @functools.cached_property
    def task(self):
        """``binary``, ``multiclass``, ``multilabel``, ``regression`` or None: from the loss, the output
        activation and the targets (see ``task_type``)."""
        pairs = self.output_loss_pairs()
        if not pairs:
            return None
        output, loss = pairs[0]
        return task_type(
            loss["name"],
            self.activation_of(output["index"]),
            output.get("units"),
            _target_range(self),
            loss.get("from_logits", False),
        )

    def activation_of(self, index):
        """A layer's activation, or that of the standalone activation layer it feeds (``Dense(50)`` then
        ``Activation('relu')``), through pass-through layers."""
        layer = self.layers[index]
        own = layer["activation"]
        if own and own != "linear":
            return own
        following = self.feeds(index)
        while len(following) == 1 and not following[0]["weights"]:
            nxt = following[0]
            if nxt["activation"] and nxt["activation"] != "linear":
                return nxt["activation"]
            if nxt["class"] not in PASS_THROUGH:
                break
            following = self.feeds(nxt["index"])
        return own

    @property
    def loss_names(self):
        return [loss["name"] for loss in self.losses]

    # -- findings ----------------------------------------------------------------------------------
    def finding(self, symptom, cause, phase, fix, evidence, layer_index=None, iteration=0, severity=None):
        """A finding; ``iteration`` is the row of the trace where the symptom is first seen (its onset);
        ``severity`` ``fault`` or ``warning`` (by default from the symptom, see causes.py)."""
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
            **({"severity": severity} if severity else {}),
        }

    def where(self, layer_index):
        """``layer `dense_2` (train.py:14)`` for messages."""
        layer = self.layers[layer_index]
        return f"layer `{layer['name']}`" + (f" ({layer['source']})" if layer["source"] else "")
