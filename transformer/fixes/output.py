"""Output activation, loss and ``from_logits``: make the three agree (``last_layer_activation``,
``loss_function``, ``output_range``). Losses are classified with ``runtime/record/facts.py``'s sets."""

import re

import libcst as cst

from ...runtime.record.facts import PROBABILISTIC_LOSSES, REGRESSION_LOSSES
from .source import argument, layers_named, literal, quoted, remove_argument, set_argument

CLASS_NAMES = {
    "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "Huber": "huber",
}


def loss_of(source, compile_call):
    """``(node, name, from_logits)`` of the compile call's loss (string or ``losses.X(...)``), or None."""
    arg = argument(compile_call, "loss", 1) if compile_call is not None else None
    if arg is None:
        return None
    node = arg.value
    if isinstance(node, cst.SimpleString):
        return node, literal(node), False
    if isinstance(node, cst.Call):
        name = CLASS_NAMES.get((source.keras(node) or "").rsplit(".", 1)[-1])
        logits = argument(node, "from_logits")
        return node, name, bool(logits is not None and literal(logits.value))
    return None


def _loss_edit(source, loss, new_name):
    """The replacement node of ``loss`` for the loss ``new_name``, keeping its form (string or object)."""
    node = loss[0]
    if isinstance(node, cst.SimpleString):
        return quoted(node, new_name)
    class_name = {v: k for k, v in CLASS_NAMES.items()}.get(new_name)
    spelled = source.spelling(f"losses.{class_name}") if class_name else None
    return node.with_changes(func=cst.parse_expression(spelled)) if spelled else None


def is_activation_layer(source, call):
    """Whether ``call`` makes a standalone ``layers.Activation`` (its activation is its first argument)."""
    return (source.keras(call) or "").split(".")[-1] == "Activation"


def _layer_before(source, call):
    """The layer call written last before ``call`` (the Dense an ``Activation`` layer follows), or None."""
    before = [c for c in source.layer_calls() if source.line(c) < source.line(call)]
    return max(before, key=source.line) if before else None


def candidates(source, finding, findings=()):
    layers = layers_named(source, finding) or source.layer_calls()[-1:]
    output_layer = layers[-1] if layers else None
    fit = source.fit_call(None)
    compile_call = source.compile_call(fit)
    loss = loss_of(source, compile_call)
    if loss is None:
        return []
    name = loss[1]
    standalone = output_layer is not None and is_activation_layer(source, output_layer)
    position = 0 if standalone else 1  # Activation("softmax") takes it first, Dense(1, "softmax") second
    activation_arg = argument(output_layer, "activation", position) if output_layer is not None else None
    activation = literal(activation_arg.value) if activation_arg is not None else None
    units_layer = _layer_before(source, output_layer) if standalone else output_layer  # Dense(1) then Activation(...)
    units_arg = argument(units_layer, "units", 0) if units_layer is not None else None
    units = literal(units_arg.value) if units_arg is not None else None
    edits = []  # (description, {old: new})

    def with_activation(value, extra=None, description=""):
        if output_layer is None:
            return
        if standalone:  # an Activation layer cannot lose its argument: it becomes linear
            new = set_argument(output_layer, "activation", source.string(value or "linear"), 0)
        else:
            new = (
                remove_argument(output_layer, "activation")
                if value is None
                else set_argument(output_layer, "activation", source.string(value), 1)
            )
        if not standalone and activation_arg is not None and activation_arg.keyword is None and value is None:
            new = output_layer.with_changes(args=[a for a in output_layer.args if a is not activation_arg])
        edits.append((description or f"activation={value!r} on the output layer", {output_layer: new, **(extra or {})}))

    def with_loss(new_name, extra_layer=None, description=""):
        node = _loss_edit(source, loss, new_name)
        if node is not None:
            replacements = {loss[0]: node}
            if extra_layer is not None:
                replacements[output_layer] = extra_layer
            edits.append((description or f"loss {new_name!r}", replacements))

    classes = re.search(r"use (\d+) output units", finding.get("fix", ""))
    if (
        classes and output_layer is not None and units_arg is not None and not standalone
    ):  # class labels on one binary unit
        layer = set_argument(
            set_argument(output_layer, "units", classes.group(1), 0), "activation", source.string("softmax"), 1
        )
        with_loss(
            "sparse_categorical_crossentropy",
            layer,
            f"{classes.group(1)} output units with softmax and sparse_categorical_crossentropy",
        )
    elif units == 1 and name == "categorical_crossentropy":
        with_loss(
            "binary_crossentropy",
            set_argument(output_layer, "activation", source.string("sigmoid"), position)
            if output_layer is not None
            else None,
            "binary_crossentropy with a sigmoid output for one unit",
        )
        with_loss("binary_crossentropy")
    elif name in REGRESSION_LOSSES and activation == "softmax" and units != 1:  # a classifier trained with MSE
        with_loss("categorical_crossentropy")
        with_loss("sparse_categorical_crossentropy")
    elif name in REGRESSION_LOSSES and activation not in (None, "linear"):
        with_activation(None, description="a linear output (activation removed) for the regression")
    elif units == 1 and activation == "softmax":
        with_activation("sigmoid")
    elif name in PROBABILISTIC_LOSSES and not loss[2] and activation not in ("sigmoid", "softmax"):
        with_activation("sigmoid" if name.startswith("binary") else "softmax")
        if isinstance(loss[0], cst.Call):
            edits.append(("from_logits=True on the loss", {loss[0]: set_argument(loss[0], "from_logits", "True")}))
        else:  # a string loss becomes the loss object, to take from_logits
            class_name = {v: k for k, v in CLASS_NAMES.items()}.get(name)
            spelled = source.spelling(f"losses.{class_name}") if class_name else None
            if spelled:
                edits.append(
                    (
                        f"loss {spelled}(from_logits=True) for the raw scores",
                        {loss[0]: cst.parse_expression(f"{spelled}(from_logits=True)")},
                    )
                )
    return [(description, source.apply(replacements)) for description, replacements in edits]
