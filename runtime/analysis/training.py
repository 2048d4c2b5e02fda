"""Rules on how training went: inputs, initialisation, activations, gradients, updates, progress."""

import math

import numpy as np

from ..stats import COLUMN
from . import thresholds

SCALE_INVARIANT_INPUTS = {"Embedding", "Rescaling", "Normalization", "TextVectorization", "StringLookup",
                          "IntegerLookup", "CategoryEncoding", "Hashing", "Discretization"}


def _median(series):
    series = series[np.isfinite(series)] if series is not None else None
    return float(np.median(series)) if series is not None and series.size else math.nan


def input_scale(view):
    """Unnormalised input features (hundreds, thousands) saturate or blow up the first layer."""
    if any(layer["class"] in SCALE_INVARIANT_INPUTS for layer in view.layers):
        return []  # token ids, or a model that normalises its own inputs
    abs_max = view.series("input", "abs_max")
    if abs_max is None or abs_max.size == 0:
        return []
    first = view.early(abs_max)
    largest = float(np.nanmax(first)) if np.isfinite(first).any() else math.nan
    if not largest > thresholds.INPUT_ABS_MAX:
        return []
    first_layer = view.weighted_layers()[0] if view.weighted_layers() else None
    return [view.finding(
        "unnormalized_input", "input_normalization", "input",
        "standardise the input features (e.g. `sklearn.preprocessing.StandardScaler`, or "
        "`keras.layers.Normalization` as the first layer); images: divide by 255",
        f"input features reach |x| = {largest:.4g} (expected of order 1)", layer_index=first_layer)]


def initialization(view):
    """Kernels that start all equal (zeros, constants) never break symmetry; huge ones start exploded.

    Read from the weights before training (``facts.initial_kernels``); for a model built inside ``fit``,
    from the first step's weights, when that step changed them by less than UPDATE_RATIO_HIGH.
    """
    findings = []
    output = view.output_layer
    initial = view.trace.facts.get("initial_kernels", {})
    trust_first_step = not view.early_update_ratio > thresholds.UPDATE_RATIO_HIGH
    for index in view.weighted_layers():
        layer = view.layers[index]
        rows = [r for r in view.rows("weight", index) if view.trace.sites[r]["tensor"].endswith("kernel")]
        if not rows:
            continue
        path = view.trace.sites[rows[0]]["tensor"]
        if path in initial:
            start = initial[path]
        elif trust_first_step and view.iterations:
            row = view.values[0, rows[0]]
            start = {name: float(row[COLUMN[name]]) for name in ("mean", "std", "abs_max", "count")}
        else:
            continue
        units = layer["units"] or 1
        if layer is not output and units > 1 and start["std"] <= 1e-6 * max(start["abs_max"], 1e-3):
            findings.append(view.finding(
                "identical_units", "weight_initialization", "weight",
                f"{view.where(index)}: use a random initializer (the default `glorot_uniform`, or `he_normal` for relu)",
                f"all {start['count']} kernel weights start at the same value ({start['mean']:.3g}): its units stay identical",
                layer_index=index))
        elif layer["class"] == "Dense":
            glorot = math.sqrt(2.0 / (start["count"] / units + units))
            if start["std"] > thresholds.INIT_STD_FACTOR * glorot:
                findings.append(view.finding(
                    "initialization_too_large", "weight_initialization", "weight",
                    f"{view.where(index)}: initial weights with std {start['std']:.3g} are {start['std'] / glorot:.0f}x "
                    "the usual scale; use the default `glorot_uniform` (or `he_normal` for relu)",
                    f"kernel std {start['std']:.3g} before training, Glorot scale {glorot:.3g}", layer_index=index))
    return findings


def _layers_with(view, activations, hidden_only=False):
    output = view.output_layer
    return [l for l in view.layers if (l["activation"] in activations) and not (hidden_only and l is output)]


def batch_size(view):
    """Examples per batch, from the targets (None when unknown)."""
    count = view.series("target", "count")
    if count is None or count.size == 0:
        return None
    output = view.output_layer
    per_example = (output["units"] or 1) if view.loss_names and view.loss_names[0] == "categorical_crossentropy" else 1
    return int(np.median(count)) // max(per_example, 1)


def dead_relu(view):
    """ReLU layers whose outputs are all zero, batch after batch: they pass no gradient and cannot recover."""
    findings = []
    for layer in _layers_with(view, {"relu"}, hidden_only=True):
        zeros = view.series("forward", "frac_zero", layer["index"])
        if zeros is None or zeros.size < thresholds.MIN_WINDOW:
            continue
        dead = _median(view.late(zeros))
        if not dead >= thresholds.DEAD_FRACTION:
            continue
        first = int(np.flatnonzero(zeros >= thresholds.DEAD_FRACTION)[0])
        ratio = view.early_update_ratio
        if ratio > thresholds.UPDATE_RATIO_HIGH and batch_size(view) == 1:
            cause, fix = "batch_size", (
                f"use mini-batches (e.g. `batch_size=32`): with one example per batch the updates were {ratio:.3g}x "
                f"the weights and pushed {view.where(layer['index'])} into the dead region")
        elif ratio > thresholds.UPDATE_RATIO_HIGH:
            cause, fix = "learning_rate", (
                f"lower the learning rate: the first updates were {ratio:.3g}x the weights and pushed "
                f"{view.where(layer['index'])} into the dead region")
        else:
            cause, fix = "dead_relu", (
                f"{view.where(layer['index'])}: check its bias and initialisation (a large negative bias kills ReLUs); "
                "use `he_normal`, zero biases, or `LeakyReLU`")
        findings.append(view.finding(
            "dead_relu", cause, "forward", fix,
            f"{dead:.0%} of its outputs are exactly 0 over the last iterations (dead from iteration {view.iteration_of(first)})",
            layer_index=layer["index"], iteration=first))
    return findings


def saturation(view):
    """Hidden sigmoid/tanh layers pinned at their bounds: their derivative is ~0, so they stop learning."""
    findings = []
    for layer in _layers_with(view, {"sigmoid", "tanh", "hard_sigmoid"}, hidden_only=True):
        saturated = view.series("forward", "frac_saturated", layer["index"])
        if saturated is None or saturated.size < thresholds.MIN_WINDOW:
            continue
        share = _median(view.late(saturated))
        if share >= thresholds.SATURATED_FRACTION:
            findings.append(view.finding(
                "saturated_activation", "saturated_activation", "forward",
                f"{view.where(layer['index'])}: its {layer['activation']} units are saturated; check its bias and "
                "initialisation and normalise its inputs, or use relu",
                f"{share:.0%} of its outputs lie within 1% of the {layer['activation']} bounds",
                layer_index=layer["index"], iteration=int(np.flatnonzero(saturated >= thresholds.SATURATED_FRACTION)[0])))
    return findings


def vanishing_gradient(view):
    """The gradient reaching the first layers is orders of magnitude below the last layer's."""
    layers = view.weighted_layers()
    if len(layers) < 3:
        return []
    first, last = _median(view.late(view.norm("gradient", layers[0]))), _median(view.late(view.norm("gradient", layers[-1])))
    if not (last > 0 and first / last < thresholds.VANISHING_RATIO):
        return []
    activations = {view.layers[i]["activation"] for i in layers[:-1]}
    hint = "use relu (with he_normal) in the hidden layers" if activations & {"sigmoid", "tanh"} else "add BatchNormalization or residual connections"
    return [view.finding(
        "vanishing_gradient", "vanishing_gradient", "backward",
        f"{view.where(layers[0])} receives almost no gradient: {hint}",
        f"gradient norm {first:.3g} at the first layer against {last:.3g} at the last ({first / last:.2g}x)",
        layer_index=layers[0])]


def exploding_gradient(view):
    """Gradient norms that grow by orders of magnitude during training."""
    findings = []
    for index in view.weighted_layers():
        gradient = view.norm("gradient", index)
        if gradient is None:  # the Diagnose callback sees no gradients
            continue
        finite = gradient[np.isfinite(gradient)]
        if finite.size < 2 or finite[0] <= 0:
            continue
        growth = float(np.max(finite) / finite[0])
        if growth > thresholds.WEIGHT_GROWTH and np.max(finite) > thresholds.EXPLODING_NORM:
            findings.append(view.finding(
                "exploding_gradient", "exploding_gradient", "backward",
                f"{view.where(index)}: clip gradients (`clipnorm=1.0`), lower the learning rate, or check the initialisation",
                f"its gradient norm grew {growth:.3g}x to {np.max(finite):.3g}",
                layer_index=index, iteration=int(np.argmax(gradient))))
            break
    return findings


def learning_rate(view):
    """Updates far larger than the weights (too high), or none at all (too low, or a decaying schedule)."""
    layers = view.weighted_layers()
    if not layers or view.iterations < thresholds.MIN_WINDOW:
        return []
    learning_rate = view.optimizer.get("learning_rate")
    early = view.early_update_ratio
    if early > thresholds.UPDATE_RATIO_EXCESSIVE or (early > thresholds.UPDATE_RATIO_HIGH and _loss_stuck(view)):
        lower = f" from {learning_rate:g} to about {learning_rate / 100:g}" if learning_rate else ""
        return [view.finding(
            "learning_rate_too_high", "learning_rate", "update",
            f"lower the learning rate{lower}: updates are {early:.3g}x the weights (about 1e-3 is healthy)",
            f"median update/weight norm ratio over the first iterations: {early:.3g}")]
    late = max((_median(view.late(view.update_ratio(i))) for i in layers), default=math.nan)
    if late < thresholds.UPDATE_RATIO_LOW:
        first = max((view.update_ratio(i)[0] for i in layers), default=math.nan)
        if "schedule" in view.optimizer and first > 100 * late:
            return [view.finding(
                "updates_vanish", "optimizer", "update",
                f"the {view.optimizer['schedule']} learning-rate schedule decays to ~0: slow its decay (larger "
                "decay_steps, decay_rate closer to 1)",
                f"update/weight ratio fell from {first:.3g} at the first step to {late:.3g}")]
        higher = f" from {learning_rate:g} to about {learning_rate * 1000:g}" if learning_rate else ""
        return [view.finding(
            "learning_rate_too_low", "learning_rate", "update",
            f"raise the learning rate{higher}: the weights barely move",
            f"median update/weight norm ratio {late:.3g} (about 1e-3 is healthy)")]
    return []


def unchanged_weights(view):
    """Layers with weights whose update is exactly zero at every step."""
    findings = []
    for index in view.weighted_layers():
        update = view.norm("update", index)
        if update is not None and update.size >= thresholds.MIN_WINDOW and np.all(update == 0):
            findings.append(view.finding(
                "unchanged_weights", "architecture", "update",
                f"{view.where(index)} never changes: no gradient reaches it; look at what is between it and the loss",
                "its update is exactly 0 at every iteration", layer_index=index))
    return findings


def _loss_stuck(view):
    """``(start, late)`` medians of the loss when it has not fallen from its start (thresholds.STUCK_LOSS_RATIO),
    else None. The start is the first few iterations (thresholds.START_WINDOW), not a share of the run: a model
    that learned quickly and then converged has a flat loss over most of a long run, at a much lower level."""
    loss = view.series("loss", "mean")
    if loss is None or loss.size < 4 * thresholds.MIN_WINDOW:
        return None
    early, late = _median(loss[: thresholds.START_WINDOW]), _median(view.late(loss))
    if not (math.isfinite(early) and math.isfinite(late)) or early <= 0 or late / early < thresholds.STUCK_LOSS_RATIO:
        return None
    return early, late


def _oscillation(view):
    """The late window's median step-to-step loss change relative to its median level (0 when unknown)."""
    loss = view.late(view.series("loss", "mean"))
    if loss is None or loss.size < thresholds.MIN_WINDOW:
        return 0.0
    level = _median(np.abs(loss))
    return _median(np.abs(np.diff(loss))) / level if level > 0 else 0.0


def oscillating_loss(view):
    """The loss jumps up and down by a large part of itself and does not fall: the steps are too large."""
    stuck, swing = _loss_stuck(view), _oscillation(view)
    if stuck is None or not swing > thresholds.OSCILLATION:
        return []
    learning_rate = view.optimizer.get("learning_rate")
    lower = f" from {learning_rate:g} to about {learning_rate / 10:g}" if learning_rate else " about 10x"
    return [view.finding(
        "oscillating_loss", "learning_rate", "loss",
        f"lower the learning rate{lower} (or use larger batches): each step overshoots",
        f"over the last iterations the loss changes by {swing:.0%} of its value from one step to the next "
        f"and does not fall (median {stuck[0]:.4g} at the start, {stuck[1]:.4g} at the end)")]


def loss_not_decreasing(view):
    """The loss at the end is no lower than at the start (and does not merely oscillate: see above)."""
    stuck = _loss_stuck(view)
    if stuck is None or _oscillation(view) > thresholds.OSCILLATION:
        return []
    early, late = stuck
    return [view.finding(
        "loss_not_decreasing", "learning_rate", "loss",
        "the loss does not fall: check the learning rate (try 10x lower and 10x higher) and the data pipeline",
        f"median loss {early:.4g} over the first iterations, {late:.4g} over the last")]


ACCURACY_KEYS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")


def accuracy_not_increasing(view):
    """Training accuracy that never rises above its first epoch and sits at the majority-class share."""
    history = view.trace.epoch_logs
    key = next((k for k in ACCURACY_KEYS if history and isinstance(history[0].get(k), float)), None)
    if key is None or len(history) < thresholds.ACCURACY_EPOCHS or view.iterations != view.all_values.shape[0]:
        return []
    accuracy = np.array([epoch.get(key, math.nan) for epoch in history], np.float64)
    if not np.all(np.isfinite(accuracy)) or accuracy[1:].max() > accuracy[0] + thresholds.ACCURACY_GAIN:
        return []
    base = _binary_base_rate(view)
    if base is not None and abs(accuracy[-1] - base) <= thresholds.BASE_RATE_TOLERANCE:
        evidence = f"{key} stays at {accuracy[-1]:.3f}, the share of the majority class ({base:.3f})"
    elif np.ptp(accuracy) == 0 and accuracy[-1] < 1:
        evidence = f"{key} is exactly {accuracy[-1]:.4f} in every epoch: the model predicts one class for every sample"
    else:
        return []
    imbalanced = base is not None and base >= 0.75
    return [view.finding(
        "accuracy_not_increasing", "data" if imbalanced else "learning_rate", "loss",
        "the classes are imbalanced: pass `class_weight` to fit (or resample) so the minority class counts"
        if imbalanced else
        "the model has learned only the majority class: check the learning rate (try 10x lower and 10x higher) "
        "and that the inputs are normalised",
        evidence, iteration=max(view.iterations - 1, 0))]


def _binary_base_rate(view):
    """The majority-class share of 0/1 targets (None for other targets)."""
    low, high, mean = (view.series("target", stat) for stat in ("min", "max", "mean"))
    if mean is None or mean.size == 0 or view.loss_names[:1] != ["binary_crossentropy"]:
        return None
    if not (np.nanmin(low) == 0 and np.nanmax(high) == 1):
        return None
    share = float(np.mean(mean))
    return max(share, 1 - share)


def data_order(view):
    """Batches that each hold a single label: the data is sorted by class and was not shuffled."""
    std, count = view.series("target", "std"), view.series("target", "count")
    if std is None or std.size < thresholds.MIN_WINDOW or not view.losses:
        return []
    if view.loss_names[0] not in ("binary_crossentropy", "sparse_categorical_crossentropy") or np.median(count) < 4:
        return []
    single = float(np.mean(std == 0))
    means = view.series("target", "mean")
    if single >= thresholds.SINGLE_LABEL_BATCHES and np.ptp(means) > 0:
        return [view.finding(
            "unshuffled_data", "data", "target",
            "shuffle the training data (`dataset.shuffle(buffer_size)` before `.batch`, or shuffle the arrays)",
            f"{single:.0%} of the batches hold a single label: the data is ordered by class")]
    return []


def validation_gap(view):
    """Validation accuracy far below training accuracy: the validation data is not like the training data."""
    history = view.trace.epoch_logs
    if not history:
        return []
    last = history[-1]
    for key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"):
        train, validation = last.get(key), last.get(f"val_{key}")
        if isinstance(train, float) and isinstance(validation, float) and train > 0.8 and validation < thresholds.VALIDATION_GAP * train:
            return [view.finding(
                "validation_mismatch", "data", "loss",
                "shuffle the data before `validation_split` (it takes the last samples, unshuffled) or split with "
                "`sklearn.model_selection.train_test_split(..., stratify=y)`",
                f"{key} {train:.2f} on training data but {validation:.2f} on validation data",
                iteration=max(view.iterations - 1, 0))]
    return []


def too_few_updates(view):
    """So few optimizer steps that the loss cannot converge: batches too large or epochs too few.

    Only for a run that ended by itself: one stopped at a NaN has other problems (see numerical_error).
    """
    loss = view.series("loss", "mean")
    if loss is None or view.iterations != view.all_values.shape[0] or not 0 < loss.size < thresholds.FEW_UPDATES:
        return []
    if not (loss[0] > 0 and loss[-1] > 0.5 * loss[0]):
        return []
    size = batch_size(view)
    smaller = f"smaller batches (`batch_size={size}` now; 32 is usual)" if size and size > 32 else "more epochs"
    return [view.finding(
        "too_few_updates", "batch_size", "update",
        f"train with {smaller}: {loss.size} updates are too few for the loss to converge",
        f"only {loss.size} optimizer steps; the loss went from {loss[0]:.4g} to {loss[-1]:.4g}")]
