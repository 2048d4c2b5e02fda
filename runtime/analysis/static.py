"""Rules on the model's configuration: output activation, loss, labels, optimizer, regularization, layers.

They fire at iteration 0 (phase ``static``, or ``target`` when the batch's labels show the problem),
before any symptom is visible in the training curves, and name the layer to change.
"""

import numpy as np

from ..record.facts import PROBABILISTIC_LOSSES, REGRESSION_LOSSES
from ..vocabulary import needs
from . import thresholds
from .view import PASS_THROUGH, _target_range

BOUNDED_OUTPUTS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, np.inf), "softmax": (0.0, 1.0)}
DEFAULTS = {"beta_1": 0.9, "beta_2": 0.999, "momentum": 0.9}  # Keras's defaults, suggested as the fix


@needs("target")
def output_activation_and_loss(view):
    """Each output's activation must produce what its loss reads, in the targets' range.

    Losses are paired with the outputs they belong to (by name for a dict, by the order of the model's
    outputs for a list); the targets' range is read only for a model with one output."""
    pairs = view.output_loss_pairs()
    findings = []
    for output, loss in pairs:
        findings.extend(_output_and_loss(view, output, loss, single=len(view.output_layers()) == 1))
    return findings


def _output_and_loss(view, output, loss, single):
    activation = view.activation_of(output["index"])
    if activation is None and output["class"] not in view_standard():
        return []  # a custom layer whose activation cannot be read: nothing to say
    index, activation, units = output["index"], activation or "linear", output["units"]
    name, from_logits = loss["name"], loss["from_logits"]
    where = view.where(index)
    found = lambda symptom, cause, fix, evidence, phase="static", severity=None: [
        view.finding(symptom, cause, phase, fix, evidence, layer_index=index, severity=severity)
    ]
    if units == 1 and name == "categorical_crossentropy":
        return found(
            "loss_mismatch",
            "loss_function",
            f"{where}: use `activation='sigmoid'` with `loss='binary_crossentropy'` for one output unit",
            "categorical cross-entropy over a single unit is identically 0: the loss cannot fall and nothing is learned",
        )
    if units == 1 and activation == "softmax":
        return found(
            "output_activation_mismatch",
            "last_layer_activation",
            f"{where}: a 1-unit softmax always outputs 1.0; use `activation='sigmoid'` with `binary_crossentropy`",
            "softmax over one unit is the constant 1.0, so every prediction is the same class",
        )
    if name in PROBABILISTIC_LOSSES and not from_logits and activation not in ("sigmoid", "softmax"):
        right = "sigmoid" if name.startswith("binary") else "softmax"
        return found(
            "output_activation_mismatch",
            "last_layer_activation",
            f"{where}: add `activation='{right}'`, or keep the raw scores and pass `from_logits=True` to the loss",
            f"{name} with from_logits=False reads probabilities, but the output activation is {activation!r}",
        )
    if name in REGRESSION_LOSSES and activation == "softmax":  # it learns, slowly: a risk until training fails
        return found(
            "loss_mismatch",
            "loss_function",
            f"{where}: train a softmax classifier with `categorical_crossentropy` (one-hot) or "
            "`sparse_categorical_crossentropy` (integer labels)",
            f"{name} through a softmax output: its gradients are small and the classes are not separated",
            severity="warning",
        )
    targets = _target_range(view) if single else None
    if targets is None:
        return []
    low, high = targets
    if name == "binary_crossentropy" and not (low >= 0.0 and high <= 1.0):
        if low == 0.0 and high >= 2.0 and float(high).is_integer():
            return found(
                "loss_mismatch",
                "loss_function",
                f"{where}: the labels are classes 0..{int(high)}: use {int(high) + 1} output units with softmax "
                "and `sparse_categorical_crossentropy`",
                f"binary cross-entropy on labels from {low:g} to {high:g}: it is unbounded below outside [0, 1]",
                phase="target",
            )
        return found(
            "label_range",
            "label_format",
            "map the labels to 0 and 1 (e.g. `y = (y == positive_label).astype('float32')`)",
            f"binary cross-entropy needs labels in [0, 1]; these range from {low:g} to {high:g}",
            phase="target",
        )
    if name in REGRESSION_LOSSES and activation in BOUNDED_OUTPUTS:
        bound_low, bound_high = BOUNDED_OUTPUTS[activation]
        if low < bound_low or high > bound_high:
            scale = max(abs(low), abs(high)) / max(abs(bound_low), abs(bound_high), 1.0)
            if activation != "relu" and scale > 10:
                return found(
                    "target_out_of_range",
                    "output_range",
                    f"{where}: scale the targets into ({bound_low:g}, {bound_high:g}) (e.g. divide by {high:g}), "
                    "or use a linear output",
                    f"targets from {low:g} to {high:g}, but a {activation} output can only give ({bound_low:g}, {bound_high:g})",
                    phase="target",
                )
            return found(
                "target_out_of_range",
                "last_layer_activation",
                f"{where}: use a linear output (`activation=None`) for this regression",
                f"targets from {low:g} to {high:g}, but a {activation} output can only give "
                f"({bound_low:g}, {bound_high:g})",
                phase="target",
            )
    return []


def optimizer_settings(view):
    """Optimizer hyper-parameters outside their valid range."""
    optimizer = view.optimizer
    problems = []
    for key in ("beta_1", "beta_2", "momentum"):  # outside [0, 1) the moment estimates diverge: a fault
        if key in optimizer and not 0.0 <= optimizer[key] < 1.0:
            problems.append(
                (
                    "optimizer_misconfigured",
                    f"{key}={optimizer[key]:g}",
                    f"{key} must lie in [0, 1): keep the default ({DEFAULTS[key]})",
                )
            )
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):  # slows training down: a risk until it stalls it
        if key in optimizer and 0.0 < optimizer[key] < thresholds.TINY_CLIP:
            problems.append(
                (
                    "tiny_gradient_clipping",
                    f"{key}={optimizer[key]:g}",
                    f"{key} clips every gradient to almost nothing: use {key}=1.0",
                )
            )
    return [
        view.finding(
            symptom,
            "optimizer",
            "static",
            fix,
            f"{optimizer.get('class', 'the optimizer')} with {setting}",
        )
        for symptom, setting, fix in problems
    ]


def regularization(view):
    """A weight penalty so strong that it outweighs the data loss."""
    findings = []
    for layer in view.layers:
        factors = layer.get("regularization") or {}
        strong = {k: v for k, v in factors.items() if v > thresholds.STRONG_REGULARIZATION}
        if strong:
            setting = ", ".join(f"{k}={v:g}" for k, v in strong.items())
            findings.append(
                view.finding(
                    "regularization_too_strong",
                    "regularization",
                    "static",
                    f"{view.where(layer['index'])}: lower the penalty to about 1e-4 ({setting} now)",
                    f"kernel_regularizer with {setting}: the penalty dominates the loss and pulls the weights to 0",
                    layer_index=layer["index"],
                )
            )
    return findings


def missing_activation(view):
    """Dense layers without activation feeding another Dense collapse into one linear map (read from the
    model's graph: parallel heads listed one after the other do not feed each other)."""
    outputs = {layer["index"] for layer in view.output_layers()}
    findings = []
    for layer in view.layers:
        if (
            layer["class"] != "Dense"
            or (view.activation_of(layer["index"]) or "linear") != "linear"
            or layer["index"] in outputs
        ):
            continue
        following = view.feeds(layer["index"])
        while len(following) == 1 and following[0]["class"] in PASS_THROUGH:
            following = view.feeds(following[0]["index"])
        following = following[0] if len(following) == 1 else None
        if following is not None and following["class"] == "Dense":
            findings.append(
                view.finding(
                    "missing_activation",
                    "architecture",
                    "static",
                    f"{view.where(layer['index'])}: add a nonlinearity, e.g. `activation='relu'`",
                    f"{layer['name']} has no activation and feeds {following['name']}: together they are one linear map",
                    layer_index=layer["index"],
                )
            )
    return findings


@needs("target")
def target_shape(view):
    """Targets whose shape does not fit the model's output in a way the loss silently broadcasts."""
    targets, outputs = view.trace.facts.get("target_shapes") or [], view.trace.facts.get("output_shapes") or []
    output = view.output_layer
    if len(targets) != 1 or len(outputs) != 1 or output is None or not view.losses:
        return []
    target, prediction, loss = targets[0], outputs[0], view.losses[0]
    where = view.where(output["index"])
    if view.trace.facts.get("loss_broadcasts"):
        return [
            view.finding(
                "target_shape_mismatch",
                "label_format",
                "static",
                f"give the targets the output's shape (`y = y.reshape(-1, {', '.join(map(str, prediction[1:]))})`), or reshape "
                f"inside the loss (`y_true = ops.reshape(y_true, ops.shape(y_pred))`)",
                f"the targets have shape {_shape(target)} but {where} outputs {_shape(prediction)}, and the loss "
                f"`{loss['name']}` gives another value for targets of the output's shape: it broadcasts them "
                f"(e.g. `y_true - y_pred` becomes (batch, batch)) and the model can only learn their mean",
                layer_index=output["index"],
            )
        ]
    units = prediction[-1] if prediction else None
    if (
        (len(target) == 1 or target[-1] == 1)
        and units
        and units > 1
        and loss.get("builtin", True)
        and not loss["name"].startswith("sparse")
    ):
        return [
            view.finding(
                "target_shape_mismatch",
                "label_format",
                "static",
                f"integer class labels need `loss='sparse_categorical_crossentropy'`; or one-hot encode them "
                f"(`keras.utils.to_categorical(y, {units})`) for `{loss['name']}`",
                f"one label per sample (shape {_shape(target)}) against {units} outputs of {where}: "
                f"{loss['name']} broadcasts the label over every output unit",
                layer_index=output["index"],
            )
        ]
    return []


def view_standard():
    from .numerical import STANDARD_LAYERS

    return STANDARD_LAYERS | {"Dense"}


def _shape(shape):
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
