"""The first NaN or Inf: the iteration and the site where it is born, and what made it."""

import numpy as np

from ..vocabulary import COLUMN, PHASE_ORDER
from . import thresholds
from .training import lower_learning_rate

STANDARD_LAYERS = {
    "Dense",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Embedding",
    "BatchNormalization",
    "LayerNormalization",
    "Dropout",
    "Flatten",
    "MaxPooling2D",
    "AveragePooling2D",
    "Concatenate",
    "Add",
    "Activation",
    "Softmax",
    "ReLU",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Reshape",
}


def _birth(view):
    bad = view.bad
    iterations = np.flatnonzero(bad.any(axis=1))
    if iterations.size == 0:
        return None
    iteration = int(iterations[0])
    sites = view.trace.sites

    def order(row):
        site = sites[row]
        position = -row if site["phase"] == "backward" else row  # backward runs from the output down
        return PHASE_ORDER[site["phase"]], position

    row = min(np.flatnonzero(bad[iteration]), key=order)
    return iteration, row


def _exploded_before(view, iteration):
    """Whether weights grew by WEIGHT_GROWTH, or a step rewrote them (update/weight > UPDATE_RATIO_HIGH), before ``iteration``."""
    for index in view.weighted_layers():
        weight = view.norm("weight", index)  # before the NaN only
        if weight is None or iteration == 0 or weight.size == 0:
            continue
        start = weight[0] if weight[0] > 0 else 1.0
        before = slice(0, iteration)
        growth = np.nanmax(weight[before]) / start
        ratio = np.nanmax(view.update_ratio(index)[before])
        if growth > thresholds.WEIGHT_GROWTH or ratio > thresholds.UPDATE_RATIO_HIGH:
            return index, growth, ratio
    return None


def _activations_exploded(view):
    """The first layer whose outputs at the first step exceed ACTIVATION_EXPLODED, while inputs are of order 1."""
    values = view.all_values
    if values.shape[0] == 0:
        return None
    inputs = view.rows("input")
    if inputs and not values[0, inputs[0], COLUMN["abs_max"]] <= thresholds.INPUT_ABS_MAX:
        return None  # unnormalised inputs explain large activations (see training.input_scale)
    for layer in view.layers:
        rows = view.rows("forward", layer["index"])
        if rows:
            magnitude = values[0, rows[0], COLUMN["abs_max"]]
            if not magnitude <= thresholds.ACTIVATION_EXPLODED:  # NaN counts as exploded too
                return layer["index"], float(magnitude)
    return None


def numerical_error(view):
    born = _birth(view)
    if born is None:
        return []
    iteration, row = born
    site = view.trace.sites[row]
    values = view.all_values[iteration, row]
    what = "NaN" if values[COLUMN["frac_nan"]] > 0 else "Inf"
    phase, index = site["phase"], site["layer_index"]
    layer = view.layers[index] if index is not None else None
    evidence = (
        f"{what} first appears at iteration {view.iteration_of(iteration)}, {phase} phase"
        + (f" of {view.where(index)}" if layer else "")
        + f" ({values[COLUMN['frac_nan']]:.0%} NaN, {values[COLUMN['frac_inf']]:.0%} Inf)"
    )
    if phase in ("input", "target"):
        data = "inputs" if phase == "input" else "targets"
        return [
            view.finding(
                "nan_in_data",
                "data",
                phase,
                f"the {data} hold NaN/Inf: clean them before training (e.g. `np.nan_to_num`, or impute missing values)",
                evidence,
                iteration=iteration,
            )
        ]
    if phase == "backward" and layer is not None:
        # d(loss)/d(output of L) is made by the layer that reads L's output: blame it if it is custom code
        consumer = next((l for l in view.layers[index + 1 :] if l["class"] not in ("Dropout",)), None)
        if consumer is not None and consumer["class"] not in STANDARD_LAYERS:
            index, layer = consumer["index"], consumer
            evidence += f"; the gradient is made by {view.where(index)}, which reads that output"
    if layer is not None and layer["class"] not in STANDARD_LAYERS and phase in ("forward", "backward"):
        return [
            view.finding(
                "numerical_error",
                "numerical_operation",
                phase,
                f"{view.where(index)}: guard the operation that makes it: log/sqrt of values <= 0 or division by 0 "
                "(add a small epsilon, e.g. `log(x + 1e-7)`, `sqrt(x + 1e-7)`, or `divide_no_nan`)",
                evidence,
                layer_index=index,
                iteration=iteration,
            )
        ]
    amplified = _activations_exploded(view)
    if amplified is not None:
        grown, magnitude = amplified
        return [
            view.finding(
                "numerical_error",
                "exploding_gradient",
                "forward",
                f"{view.where(grown)}: its activations are huge from the first step; use a smaller initialisation "
                "(the default `glorot_uniform`, `he_normal` for relu, `orthogonal` for recurrent kernels) and clip "
                "gradients (`clipnorm=1.0`)",
                evidence + f"; at the first step its outputs already reach {magnitude:.3g}",
                layer_index=grown,
                iteration=iteration,
            )
        ]
    exploded = _exploded_before(view, iteration)
    if exploded is not None:
        grown, growth, ratio = exploded
        return [
            view.finding(
                "numerical_error",
                "learning_rate",
                "update",
                f"{lower_learning_rate(view, ratio)}: updates were {ratio:.3g}x the weights before the overflow",
                evidence + f"; before it, the weights of {view.where(grown)} grew {growth:.3g}x",
                layer_index=grown,
                iteration=iteration,
            )
        ]
    cause = "exploding_gradient" if phase in ("backward", "gradient", "forward") else "learning_rate"
    return [
        view.finding(
            "numerical_error",
            cause,
            phase,
            "values overflow: check the weight initialisation (e.g. glorot_uniform), clip gradients (`clipnorm=1.0`) "
            "and lower the learning rate",
            evidence,
            layer_index=index,
            iteration=iteration,
        )
    ]
