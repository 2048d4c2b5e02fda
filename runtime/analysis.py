"""Rules that turn a trace into findings. Each rule is a function ``trace -> list of findings``.

``RULES`` lists the rules that run, in order; ``report.json`` names them under ``"checks"`` so a
reader knows what an ``ok`` verdict covers.
"""

import numpy as np

from .stats import COLUMN

# Within one iteration, values are born in this order: the forward pass layer by layer, the loss, the
# backward pass from the last layer to the first, then the optimizer's update of each weight.
PHASE_ORDER = {"forward": 0, "loss": 1, "backward": 2, "gradient": 3, "update": 4, "weight": 5}
CAUSE_BY_PHASE = {
    "forward": "numerical_operation",
    "loss": "loss_function",
    "backward": "exploding_gradient",
    "gradient": "exploding_gradient",
    "update": "learning_rate",
    "weight": "learning_rate",
}
FIX_BY_PHASE = {
    "forward": "guard the operation that makes it (log/sqrt of values <= 0, division by zero, exp overflow): "
    "clip or offset its input, or check the input data for NaN",
    "loss": "check that the loss fits the labels and the output activation, and that labels have no NaN",
    "backward": "gradients overflow: lower the learning rate, clip gradients (clipnorm=1.0), or normalise inputs",
    "gradient": "gradients overflow: lower the learning rate, clip gradients (clipnorm=1.0), or normalise inputs",
    "update": "the optimizer's update overflows the weights: lower the learning rate",
    "weight": "the optimizer's update overflows the weights: lower the learning rate",
}


def numerical_error(trace):
    """The first NaN or Inf: the iteration and the site where it is born, not every site it spread to."""
    values = trace.values
    if values.size == 0:
        return []
    bad = (values[:, :, COLUMN["frac_nan"]] > 0) | (values[:, :, COLUMN["frac_inf"]] > 0)
    iterations = np.flatnonzero(bad.any(axis=1))
    if iterations.size == 0:
        return []
    iteration = int(iterations[0])
    order = sorted(
        np.flatnonzero(bad[iteration]),
        key=lambda i: (PHASE_ORDER[trace.sites[i]["phase"]], _backward_position(trace.sites[i], i)),
    )
    first = trace.sites[order[0]]
    row = values[iteration, order[0]]
    layer = trace.layers[first["layer_index"]] if first["layer_index"] is not None else None
    what = "NaN" if row[COLUMN["frac_nan"]] > 0 else "Inf"
    return [
        {
            "symptom": "numerical_error",
            "layer": first["layer"] or None,
            "layer_index": first["layer_index"],
            "source": layer["source"] if layer else None,
            "phase": first["phase"],
            "iteration": iteration,
            "epoch": int(trace.epochs[iteration]),
            "cause": CAUSE_BY_PHASE[first["phase"]],
            "fix": FIX_BY_PHASE[first["phase"]],
            "evidence": f"{what} first appears at iteration {iteration} in the {first['phase']} phase"
            + (f" of layer {first['layer']!r}" if first["layer"] else "")
            + f" ({float(row[COLUMN['frac_nan']]):.0%} NaN, {float(row[COLUMN['frac_inf']]):.0%} Inf)",
        }
    ]


def _backward_position(site, index):
    # the backward pass runs from the output layer down: later sites are born first
    return -index if site["phase"] == "backward" else index


RULES = (numerical_error,)


def analyse(trace):
    findings = []
    for rule in RULES:
        findings.extend(rule(trace))
    return findings
