"""Rules on how training went: inputs, initialisation, activations, gradients, updates, progress."""

import math

import numpy as np

from ..vocabulary import COLUMN, needs
from . import thresholds

SCALE_INVARIANT_INPUTS = {
    "Embedding",
    "Rescaling",
    "Normalization",
    "TextVectorization",
    "StringLookup",
    "IntegerLookup",
    "CategoryEncoding",
    "Hashing",
    "Discretization",
}


def learning_rate_change(view, ratio, target):
    """`` from 5 to about 0.05``: the learning rate that brings a measured update/weight ``ratio`` to
    ``target`` (updates scale with the learning rate, for SGD and for Adam alike); empty when unknown."""
    learning_rate = view.optimizer.get("learning_rate")
    if not learning_rate or not (math.isfinite(ratio) and ratio > 0):
        return ""
    suggested = learning_rate * target / ratio
    return f" from {learning_rate:g} to about {float(f'{suggested:.1g}'):g}"


def lower_learning_rate(view, ratio):
    """``lower the learning rate from 5 to about 0.05``, computed from the first updates' ratio."""
    return "lower the learning rate" + learning_rate_change(view, ratio, thresholds.UPDATE_RATIO_HEALTHY_HIGH)


def _median(series):
    series = series[np.isfinite(series)] if series is not None else None
    return float(np.median(series)) if series is not None and series.size else math.nan


@needs("input")
def input_scale(view):
    """Unnormalised input features (hundreds, thousands) saturate or blow up the first layer (a warning: it
    becomes the fault's root when a failure it explains follows, see causes.py)."""
    if any(
        layer["class"] in SCALE_INVARIANT_INPUTS or SCALE_INVARIANT_INPUTS & set(layer.get("sublayers") or ())
        for layer in view.layers
    ):
        return []  # token ids (also into an Embedding inside a custom layer), or a model that normalises its inputs
    abs_max = view.series("input", "abs_max")
    if abs_max is None or abs_max.size == 0:
        return []
    first = view.early(abs_max)
    largest = float(np.nanmax(first)) if np.isfinite(first).any() else math.nan
    if not largest > thresholds.INPUT_ABS_MAX:
        return []
    first_layer = view.weighted_layers()[0] if view.weighted_layers() else None
    low = view.series("input", "min")
    pixels = low is not None and np.nanmin(view.early(low)) >= 0 and largest <= 255
    fix = (
        f"divide the images by 255 (values reach {largest:g}), or add `keras.layers.Rescaling(1/255)` as the "
        "first layer"
        if pixels
        else f"standardise the input features (values reach |x| = {largest:.4g}): e.g. "
        "`sklearn.preprocessing.StandardScaler`, or `keras.layers.Normalization` as the first layer"
    )
    return [
        view.finding(
            "unnormalized_input",
            "input_normalization",
            "input",
            (f"{view.where(first_layer)} reads them: " if first_layer is not None else "") + fix,
            f"input features reach |x| = {largest:.4g} (expected of order 1)",
            layer_index=first_layer,
        )
    ]


@needs("weight")
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
            findings.append(
                view.finding(
                    "identical_units",
                    "weight_initialization",
                    "weight",
                    f"{view.where(index)}: use a random initializer (the default `glorot_uniform`, or `he_normal` for relu)",
                    f"all {start['count']} kernel weights start at the same value ({start['mean']:.3g}): its units stay identical",
                    layer_index=index,
                )
            )
        elif layer["class"] == "Dense":
            glorot = math.sqrt(2.0 / (start["count"] / units + units))
            if start["std"] > thresholds.INIT_STD_FACTOR * glorot:
                findings.append(
                    view.finding(
                        "initialization_too_large",
                        "weight_initialization",
                        "weight",
                        f"{view.where(index)}: initial weights with std {start['std']:.3g} are {start['std'] / glorot:.0f}x "
                        "the usual scale; use the default `glorot_uniform` (or `he_normal` for relu)",
                        f"kernel std {start['std']:.3g} before training, Glorot scale {glorot:.3g}",
                        layer_index=index,
                    )
                )
    return findings


def _layers_with(view, activations, hidden_only=False):
    """Layers whose outputs pass through one of ``activations``: their own, or a standalone activation layer's
    (measured on that layer's outputs; reported on the weighted layer it belongs to, see ``view.owner``)."""
    outputs = {layer["index"] for layer in view.output_layers()}
    found = []
    for l in view.layers:
        if l["activation"] not in activations:
            continue
        owner = view.owner(l["index"])
        if hidden_only and (l["index"] in outputs or owner in outputs):
            continue
        found.append((l, owner))
    return found


def batch_size(view):
    """Examples per batch, from the targets (None when unknown)."""
    count = view.series("target", "count")
    if count is None or count.size == 0:
        return None
    output = view.output_layer
    per_example = (output["units"] or 1) if view.loss_names and view.loss_names[0] == "categorical_crossentropy" else 1
    return int(np.median(count)) // max(per_example, 1)


@needs("forward")
def dead_relu(view):
    """ReLU layers whose outputs are all zero, batch after batch: they pass no gradient and cannot recover."""
    findings = []
    for layer, owner in _layers_with(view, {"relu"}, hidden_only=True):
        zeros = view.series("forward", "frac_zero", layer["index"])
        if zeros is None or zeros.size < thresholds.MIN_WINDOW:
            continue
        dead = _median(view.late(zeros))
        if not dead >= thresholds.DEAD_FRACTION:
            continue
        first = int(np.flatnonzero(zeros >= thresholds.DEAD_FRACTION)[0])
        ratio = view.early_update_ratio
        after_updates = first > 0  # dead at the very first forward pass: no update made it so
        if after_updates and ratio > thresholds.UPDATE_RATIO_HIGH and batch_size(view) == 1:
            cause, fix = (
                "batch_size",
                (
                    f"use mini-batches (e.g. `batch_size=32`): with one example per batch the updates were {ratio:.3g}x "
                    f"the weights and pushed {view.where(owner)} into the dead region"
                ),
            )
        elif after_updates and ratio > thresholds.UPDATE_RATIO_HIGH:
            cause, fix = (
                "learning_rate",
                (
                    f"{lower_learning_rate(view, ratio)}: the first updates were {ratio:.3g}x the weights and pushed "
                    f"{view.where(owner)} into the dead region"
                ),
            )
        else:
            cause, fix = (
                "dead_relu",
                (
                    f"{view.where(owner)}: check its bias and initialisation (a large negative bias kills ReLUs); "
                    "use `he_normal`, zero biases, or `LeakyReLU`"
                ),
            )
        findings.append(
            view.finding(
                "dead_relu",
                cause,
                "forward",
                fix,
                f"{dead:.0%} of its outputs are exactly 0 over the last iterations (dead from iteration {view.iteration_of(first)})",
                layer_index=owner,
                iteration=first,
            )
        )
    return findings


@needs("forward")
def saturation(view):
    """Hidden sigmoid/tanh layers pinned at their bounds: their derivative is ~0, so they stop learning."""
    findings = []
    for layer, owner in _layers_with(view, {"sigmoid", "tanh", "hard_sigmoid"}, hidden_only=True):
        saturated = view.series("forward", "frac_saturated", layer["index"])
        if saturated is None or saturated.size < thresholds.MIN_WINDOW:
            continue
        share = _median(view.late(saturated))
        if share >= thresholds.SATURATED_FRACTION:
            ratio, onset = view.early_update_ratio, int(np.flatnonzero(saturated >= thresholds.SATURATED_FRACTION)[0])
            if (
                onset > 0 and ratio > thresholds.UPDATE_RATIO_HIGH
            ):  # the first steps threw the pre-activations out of range
                cause, fix = (
                    "learning_rate",
                    (
                        f"{lower_learning_rate(view, ratio)}: the first updates were {ratio:.3g}x the weights and drove "
                        f"{view.where(owner)} into saturation"
                    ),
                )
            else:
                cause, fix = (
                    "saturated_activation",
                    (
                        f"{view.where(owner)}: its {layer['activation']} units are saturated; check its bias and "
                        "initialisation and normalise its inputs, or use relu"
                    ),
                )
            findings.append(
                view.finding(
                    "saturated_activation",
                    cause,
                    "forward",
                    fix,
                    f"{share:.0%} of its outputs lie within 1% of the {layer['activation']} bounds",
                    layer_index=owner,
                    iteration=onset,
                )
            )
    return findings


@needs("gradient")
def vanishing_gradient(view):
    """The gradient reaching the first layers is orders of magnitude below the last layer's."""
    layers = view.weighted_layers()
    if len(layers) < 3:
        return []
    first, last = (
        _median(view.late(view.norm("gradient", layers[0]))),
        _median(view.late(view.norm("gradient", layers[-1]))),
    )
    if not (last > 0 and first / last < thresholds.VANISHING_RATIO):
        return []
    activations = {view.activation_of(i) for i in layers[:-1]}
    hint = (
        "use relu (with he_normal) in the hidden layers"
        if activations & {"sigmoid", "tanh"}
        else "add BatchNormalization or residual connections"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = view.norm("gradient", layers[0]) / view.norm("gradient", layers[-1])
    # onset: from where the gradient stays vanished to the end (a dip on the way, e.g. while units above
    # die one after the other, is not yet the trained state the rule judges)
    above = np.flatnonzero(~(ratio < thresholds.VANISHING_RATIO))
    onset = int(above[-1]) + 1 if above.size else 0
    return [
        view.finding(
            "vanishing_gradient",
            "vanishing_gradient",
            "backward",
            f"{view.where(layers[0])} receives almost no gradient: {hint}",
            f"gradient norm {first:.3g} at the first layer against {last:.3g} at the last ({first / last:.2g}x)",
            layer_index=layers[0],
            iteration=min(onset, max(view.iterations - 1, 0)),
        )
    ]


@needs("gradient")
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
            onset = int(np.flatnonzero(gradient > thresholds.EXPLODING_NORM)[0])
            ratio = view.early_update_ratio
            if onset > 0 and ratio > thresholds.UPDATE_RATIO_HIGH:  # the first steps were as large as the weights
                cause, fix = (
                    "learning_rate",
                    (
                        f"{lower_learning_rate(view, ratio)}: the first updates were {ratio:.3g}x the weights, and the "
                        f"gradients of {view.where(index)} grew from there"
                    ),
                )
            else:
                cause, fix = (
                    "exploding_gradient",
                    (
                        f"{view.where(index)}: clip gradients (`clipnorm=1.0`), lower the learning rate, or check the initialisation"
                    ),
                )
            findings.append(
                view.finding(
                    "exploding_gradient",
                    cause,
                    "backward",
                    fix,
                    f"its gradient norm grew {growth:.3g}x to {np.max(finite):.3g}",
                    layer_index=index,
                    iteration=onset,
                )
            )
            break
    return findings


@needs("update")
def learning_rate(view):
    """Updates far larger than the weights (too high), or none at all (too low, or a decaying schedule)."""
    layers = view.weighted_layers()
    if not layers or view.iterations < thresholds.MIN_WINDOW:
        return []
    early = view.early_update_ratio
    if early > thresholds.UPDATE_RATIO_EXCESSIVE or (early > thresholds.UPDATE_RATIO_HIGH and _loss_stuck(view)):
        return [
            view.finding(
                "learning_rate_too_high",
                "learning_rate",
                "update",
                f"{lower_learning_rate(view, early)}: updates are {early:.3g}x the weights (about 1e-3 is healthy)",
                f"median update/weight norm ratio over the first iterations: {early:.3g}",
            )
        ]
    # layers that never move at all are unchanged_weights' (or frozen on purpose), not the learning rate's
    moving = [i for i in layers if np.any(view.update_ratio(i)[np.isfinite(view.update_ratio(i))] > 0)]
    late = max((_median(view.late(view.update_ratio(i))) for i in moving), default=math.nan)
    if late < thresholds.UPDATE_RATIO_LOW:
        first = max((view.update_ratio(i)[0] for i in moving), default=math.nan)
        if "schedule" in view.optimizer and first > 100 * late:
            return [
                view.finding(
                    "updates_vanish",
                    "optimizer",
                    "update",
                    f"the {view.optimizer['schedule']} learning-rate schedule decays to ~0: slow its decay (larger "
                    "decay_steps, decay_rate closer to 1)",
                    f"update/weight ratio fell from {first:.3g} at the first step to {late:.3g}",
                )
            ]
        return [
            view.finding(
                "learning_rate_too_low",
                "learning_rate",
                "update",
                f"raise the learning rate{learning_rate_change(view, late, thresholds.UPDATE_RATIO_HEALTHY)}: the weights barely move",
                f"median update/weight norm ratio {late:.3g} (about 1e-3 is healthy)",
                iteration=_stuck_onset(view),
            )
        ]
    return []


@needs("update")
def unchanged_weights(view):
    """Layers with weights whose update is exactly zero at every step."""
    findings = []
    custom_step = view.trace.facts.get("custom_train_step")
    for index in view.weighted_layers():
        update = view.norm("update", index)
        if update is not None and update.size >= thresholds.MIN_WINDOW and np.all(update == 0):
            layer = view.layers[index]
            if custom_step or layer.get("submodel"):
                # the model's own train_step chooses what it updates (a teacher in distillation, a GAN's other
                # half): a sub-model it leaves alone is a design, said as a warning
                findings.append(
                    view.finding(
                        "frozen_by_design",
                        "architecture",
                        "update",
                        f"{view.where(index)} is not updated by this training step; if it should learn, add its "
                        "`trainable_variables` to the ones the train_step applies gradients to",
                        "its update is exactly 0 at every iteration (the model's train_step decides what is trained)",
                        layer_index=index,
                        severity="warning",
                    )
                )
                continue
            findings.append(
                view.finding(
                    "unchanged_weights",
                    "architecture",
                    "update",
                    f"{view.where(index)} never changes: no gradient reaches it; look at what is between it and the loss",
                    "its update is exactly 0 at every iteration",
                    layer_index=index,
                )
            )
    return findings


def nothing_to_train(view):
    """A model whose every weight is frozen (``trainable = False``): fit changes nothing."""
    frozen = [layer for layer in view.layers if layer.get("frozen")]
    if not frozen or any(layer["weights"] for layer in view.layers):
        return []
    names = ", ".join(f"`{layer['name']}`" for layer in frozen[:4]) + (", ..." if len(frozen) > 4 else "")
    return [
        view.finding(
            "nothing_to_train",
            "frozen_model",
            "static",
            f"set `trainable = True` on the layers to train (now frozen: {names}), or on the model, then compile again",
            f"the model has no trainable weight: all {len(frozen)} layers with weights are frozen",
            layer_index=frozen[0]["index"],
        )
    ]


def _loss_stuck(view):
    """``(start, late)`` medians of the loss when it has not fallen from its start (thresholds.STUCK_LOSS_RATIO),
    else None. The start is the first few iterations (thresholds.START_WINDOW), not a share of the run: a model
    that learned quickly and then converged has a flat loss over most of a long run, at a much lower level.

    Progress is judged on every signal: the per-step loss when the trace has it (the generated loop; the
    callback's loss is Keras's running mean over the epoch, so it judges epoch losses instead), and no
    epoch-level signal (epoch loss, validation loss, metrics) may show learning (see ``learning_elsewhere``)."""
    if learning_elsewhere(view):
        return None
    if getattr(view.trace, "mechanism", "loop") == "callback":
        losses = [e.get("loss") for e in view.trace.epoch_logs if isinstance(e.get("loss"), float)]
        if len(losses) < 3:
            return None
        early, late = losses[0], losses[-1]
    else:
        loss = view.series("loss", "mean")
        if loss is None or loss.size < 4 * thresholds.MIN_WINDOW:
            return None
        early, late = _median(loss[: thresholds.START_WINDOW]), _median(view.late(loss))
    if not (math.isfinite(early) and math.isfinite(late)) or early <= 0 or late / early < thresholds.STUCK_LOSS_RATIO:
        return None
    return early, late


LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "crossentropy")


def learning_elsewhere(view, exclude=(), metrics_only=False):
    """The first epoch-level signal that shows the model learning, as text, or None: an epoch loss or
    validation loss falling, or a metric (accuracy, AUC, ...) rising, by thresholds.PROGRESS_GAIN.
    ``metrics_only``: metrics alone (a loss falling from a bad start to the chance level learned nothing)."""
    history = view.trace.epoch_logs
    if len(history) < 2:
        return None
    keys = [k for k in history[0] if k != "epoch" and k not in exclude and isinstance(history[0].get(k), float)]
    for key in keys:
        values = np.array([e.get(key, math.nan) for e in history], np.float64)
        if not np.isfinite(values).all():
            continue
        first, last = values[0], values[-1]
        if any(word in key for word in LOWER_IS_BETTER):
            if not metrics_only and first > 0 and last < (1 - thresholds.PROGRESS_GAIN) * first:
                return f"{key} fell from {first:.4g} to {last:.4g}"
        elif (
            0 <= first <= 1
            and 0 <= last <= 1
            and last > max(first, _metric_at_chance(view, key)) + thresholds.PROGRESS_GAIN
        ):
            return f"{key} rose from {first:.4g} to {last:.4g}"
    return None


def _metric_at_chance(view, key):
    """What a metric scores without learning: AUC 0.5; accuracy the majority share (binary targets) or 1/K."""
    if "auc" in key:
        return 0.5
    if "acc" not in key:
        return 0.0
    base = _binary_base_rate(view)
    if base is not None:
        return base
    pairs = view.output_loss_pairs()
    units = pairs[0][0].get("units") if len(pairs) == 1 else None
    return 1.0 / units if view.task == "multiclass" and units else 0.0


def _stuck_onset(view):
    """Where a stuck loss is seen: the start of the late window it is judged on."""
    return max(view.iterations - len(view.late(np.zeros(view.iterations))), 0) if view.iterations else 0


def _oscillation(view):
    """The late window's median step-to-step loss change relative to its median level (0 when unknown)."""
    loss = view.late(view.series("loss", "mean"))
    if loss is None or loss.size < thresholds.MIN_WINDOW:
        return 0.0
    level = _median(np.abs(loss))
    return _median(np.abs(np.diff(loss))) / level if level > 0 else 0.0


@needs("loss")
def oscillating_loss(view):
    """The loss jumps up and down by a large part of itself and does not fall: the steps are too large."""
    stuck, swing = _loss_stuck(view), _oscillation(view)
    if stuck is None or not swing > thresholds.OSCILLATION:
        return []
    early = view.early_update_ratio
    lower = (
        lower_learning_rate(view, early)
        if early > thresholds.UPDATE_RATIO_HEALTHY_HIGH
        else "lower the learning rate about 10x"
    )
    return [
        view.finding(
            "oscillating_loss",
            "learning_rate",
            "loss",
            f"{lower} (or use larger batches): each step overshoots",
            f"over the last iterations the loss changes by {swing:.0%} of its value from one step to the next "
            f"and does not fall (median {stuck[0]:.4g} at the start, {stuck[1]:.4g} at the end)",
            iteration=_stuck_onset(view),
        )
    ]


@needs("loss")
def loss_not_decreasing(view):
    """The loss at the end is no lower than at the start (and does not merely oscillate: see above)."""
    stuck = _loss_stuck(view)
    if stuck is None or _oscillation(view) > thresholds.OSCILLATION:
        return []
    early, late = stuck
    return [
        view.finding(
            "loss_not_decreasing",
            "learning_rate",
            "loss",
            "the loss does not fall: check the learning rate (try 10x lower and 10x higher) and the data pipeline",
            f"median loss {early:.4g} over the first iterations, {late:.4g} over the last",
            iteration=_stuck_onset(view),
        )
    ]


def chance_loss(view):
    """``(loss, what)``: the loss of the best constant prediction for this task, or None when unknown."""
    task, loss = view.task, (view.loss_names or [None])[0]
    if len(view.output_loss_pairs()) != 1:
        return None
    mean, std, count = (view.series("target", stat) for stat in ("mean", "std", "count"))
    if task == "binary" and loss == "binary_crossentropy" and mean is not None and mean.size:
        share = float(np.clip(np.nanmean(mean), 1e-6, 1 - 1e-6))
        return -(
            share * math.log(share) + (1 - share) * math.log(1 - share)
        ), f"the entropy of the base rate {share:.2f}"
    if task == "multiclass" and loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        units = view.output_loss_pairs()[0][0].get("units")
        if units and units > 1:
            return math.log(units), f"ln {units}, a uniform guess over {units} classes"
    if task == "regression" and loss in ("mean_squared_error", "mse") and std is not None and count is not None:
        if std.size and np.median(count) >= 8:  # a batch's spread estimates the targets' variance
            return float(np.nanmean(std.astype(np.float64) ** 2)), "the targets' variance (predicting their mean)"
    return None


@needs("loss", "target")
def loss_at_chance_level(view):
    """The loss ends where a model that ignores its inputs would be: nothing was learned from the data."""
    chance = chance_loss(view)
    loss = view.series("loss", "mean")
    if chance is None or loss is None or loss.size < thresholds.MIN_WINDOW or chance[0] <= 0:
        return []
    if getattr(view.trace, "mechanism", "loop") == "callback":
        epochs = [e.get("loss") for e in view.trace.epoch_logs if isinstance(e.get("loss"), float)]
        late = epochs[-1] if epochs else math.nan
    else:
        late = _median(view.late(loss))
    if not (late >= thresholds.CHANCE_LOSS_FRACTION * chance[0]) or learning_elsewhere(view, metrics_only=True):
        return []
    return [
        view.finding(
            "loss_at_chance_level",
            "learning_rate",
            "loss",
            "the model learns nothing from its inputs: check the learning rate (try 10x lower and 10x higher), that "
            "the inputs are normalised and that inputs and labels match",
            f"the loss ends at {late:.4g}, the level of a constant prediction ({chance[0]:.4g}: {chance[1]})",
            iteration=_stuck_onset(view),
        )
    ]


ACCURACY_KEYS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")


def accuracy_not_increasing(view):
    """Training accuracy that never rises above its first epoch and sits at the majority-class share."""
    history = view.trace.epoch_logs
    key = next((k for k in ACCURACY_KEYS if history and isinstance(history[0].get(k), float)), None)
    if key is None or len(history) < thresholds.ACCURACY_EPOCHS or view.iterations != view.all_values.shape[0]:
        return []
    if view.task == "regression":  # accuracy compares predictions with targets for equality: meaningless here
        return [
            view.finding(
                "meaningless_metric",
                "metric",
                "static",
                "accuracy means nothing for a regression: use `metrics=['mae']` (or `'mse'`) instead",
                f"{key} on a regression model (loss {view.loss_names[0]}, {view.activation_of(view.output_layer['index']) or 'linear'} "
                "output): it counts exact matches of real values",
                severity="warning",
            )
        ]
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
    learning = learning_elsewhere(view, exclude=ACCURACY_KEYS + tuple(f"val_{k}" for k in ACCURACY_KEYS))
    if learning:  # the model learns (its loss or AUC improves); accuracy alone sits at the majority share
        return [
            view.finding(
                "accuracy_at_base_rate",
                "data",
                "loss",
                "accuracy is not the measure of this model: the classes are imbalanced and the threshold 0.5 gives "
                "the majority class; watch AUC/precision/recall, or pass `class_weight` to fit if the minority matters",
                evidence + f", while {learning}",
                iteration=max(view.iterations - 1, 0),
                severity="warning",
            )
        ]
    return [
        view.finding(
            "accuracy_not_increasing",
            "data" if imbalanced else "learning_rate",
            "loss",
            "the classes are imbalanced: pass `class_weight` to fit (or resample) so the minority class counts"
            if imbalanced
            else "the model has learned only the majority class: check the learning rate (try 10x lower and 10x higher) "
            "and that the inputs are normalised",
            evidence,
            iteration=max(view.iterations - 1, 0),
        )
    ]


def _binary_base_rate(view):
    """The majority-class share of 0/1 targets (None for other targets)."""
    low, high, mean = (view.series("target", stat) for stat in ("min", "max", "mean"))
    if mean is None or mean.size == 0 or view.loss_names[:1] != ["binary_crossentropy"]:
        return None
    if not (np.nanmin(low) == 0 and np.nanmax(high) == 1):
        return None
    share = float(np.mean(mean))
    return max(share, 1 - share)


@needs("target")
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
        return [
            view.finding(
                "unshuffled_data",
                "data",
                "target",
                "shuffle the training data (`dataset.shuffle(buffer_size)` before `.batch`, or shuffle the arrays)",
                f"{single:.0%} of the batches hold a single label: the data is ordered by class",
            )
        ]
    return []


def validation_gap(view):
    """Validation accuracy far below training accuracy: the validation data is not like the training data."""
    history = view.trace.epoch_logs
    if not history:
        return []
    last = history[-1]
    for key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"):
        train, validation = last.get(key), last.get(f"val_{key}")
        if (
            isinstance(train, float)
            and isinstance(validation, float)
            and train > 0.8
            and validation < thresholds.VALIDATION_GAP * train
        ):
            if (
                any(layer["class"] == "BatchNormalization" for layer in view.layers)
                and len(history) <= thresholds.ACCURACY_EPOCHS
            ):
                return [
                    view.finding(
                        "validation_mismatch",
                        "data",
                        "loss",
                        "train longer (BatchNormalization's moving statistics, used at validation, are still near their "
                        "initial values after a short run; or lower its `momentum`), then check the validation split",
                        f"{key} {train:.2f} on training data but {validation:.2f} on validation data after "
                        f"{len(history)} epochs, in a model with BatchNormalization",
                        iteration=max(view.iterations - 1, 0),
                        severity="warning",
                    )
                ]
            return [
                view.finding(
                    "validation_mismatch",
                    "data",
                    "loss",
                    "shuffle the data before `validation_split` (it takes the last samples, unshuffled) or split with "
                    "`sklearn.model_selection.train_test_split(..., stratify=y)`",
                    f"{key} {train:.2f} on training data but {validation:.2f} on validation data",
                    iteration=max(view.iterations - 1, 0),
                )
            ]
    return []


def too_few_updates(view):
    """So few optimizer steps that the loss cannot converge: batches too large or epochs too few.

    Batches of (almost) the whole training set, one or two steps an epoch, are a configuration fault: more epochs
    only repeat the same few averaged steps. Otherwise the run was short: too short to judge whether the model
    learns, which is a warning and no failure (a short run's loss is still high, near chance level). Only for a run
    that ended by itself: one stopped at a NaN has other problems (see numerical_error).
    """
    loss = view.series("loss", "mean")
    if loss is None or view.iterations != view.all_values.shape[0] or not 0 < loss.size < thresholds.FEW_UPDATES:
        return []
    if not (loss[0] > 0 and loss[-1] > 0.5 * loss[0]):
        return []
    evidence = f"only {loss.size} optimizer steps; the loss went from {loss[0]:.4g} to {loss[-1]:.4g}"
    epochs = view.trace.epochs[: view.iterations]
    per_epoch = int(np.count_nonzero(epochs == epochs[0])) if epochs.size else loss.size
    if per_epoch <= thresholds.FULL_BATCH_STEPS:
        size = batch_size(view)
        batches = f"`batch_size={size}` now" if size else "one batch is (almost) the whole training set"
        return [
            view.finding(
                "too_few_updates",
                "batch_size",
                "static",
                f"train with smaller batches ({batches}; 32 is usual): {per_epoch} update(s) an epoch are too few "
                "for the loss to converge, and more epochs repeat the same averaged steps",
                f"{evidence}, {per_epoch} an epoch",
            )
        ]
    return [
        view.finding(
            "too_few_updates",
            "epochs",
            "static",
            f"train longer (more epochs): {loss.size} updates are too few to judge whether the model learns",
            evidence,
            severity="warning",
        )
    ]
