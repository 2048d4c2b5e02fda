"""What the analysis needs to know about a model besides its trace: layers, activations, loss, optimizer.

``model_facts(model)`` is plain data (JSON-ready), taken once when a ``fit`` starts.
"""

from ..origins import origin_of

REGRESSION_LOSSES = {
    "mean_squared_error",
    "mse",
    "mean_absolute_error",
    "mae",
    "huber",
    "huber_loss",
    "log_cosh",
    "logcosh",
    "mean_squared_logarithmic_error",
    "msle",
    "mean_absolute_percentage_error",
    "mape",
}
PROBABILISTIC_LOSSES = {
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
}


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        names = {"Softmax": "softmax", "ReLU": "relu", "LeakyReLU": "leaky_relu"}
        if type(layer).__name__ in names:
            return names[type(layer).__name__]
        if not _is_keras(layer):  # a custom layer: the activation of its last sub-layer that has one
            inner = [_activation_name(sub) for sub in _sublayers(layer)]
            inner = [name for name in inner if name]
            return inner[-1] if inner else None
        return None
    return getattr(activation, "__name__", type(activation).__name__)


def _sublayers(layer):
    from .graph import sublayers

    return sublayers(layer)


def _inbound(layer, index_of):
    """Indices (in ``model.layers``) of the layers whose outputs this layer reads: the model's graph."""
    from .graph import inbound_tensors, producer_name

    feeding = []
    for tensor in inbound_tensors(layer):
        name = producer_name(tensor)
        if name in index_of and index_of[name] not in feeding:
            feeding.append(index_of[name])
    return feeding


def _output_layers(model, index_of):
    """Names and layer indices of the model's outputs, in the order of ``model.outputs``."""
    try:
        outputs = list(model.outputs)
    except (AttributeError, ValueError, TypeError):
        return []
    from .graph import producer_name

    found = []
    for tensor in outputs:
        name = producer_name(tensor)
        found.append({"name": name, "layer_index": index_of.get(name)})
    return found


def _custom_train_step(model):
    """Whether the model's class writes its own ``train_step`` (it then decides what is trained)."""
    step = getattr(type(model), "train_step", None)
    module = getattr(step, "__module__", "") or ""
    return bool(step) and module.split(".")[0] not in ("keras", "tensorflow", "tf_keras")


def _units(layer):
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return getattr(layer, "units", None)
    return shape[-1] if shape else None


def _regularization(layer):
    regularizer = getattr(layer, "kernel_regularizer", None)
    if regularizer is None:
        return None
    config = regularizer.get_config() if hasattr(regularizer, "get_config") else {}
    return {k: float(v) for k, v in config.items() if k in ("l1", "l2") and v}


def _losses(model, outputs=()):
    """One entry per compiled loss, with the name of the output it belongs to (``output``, None when it cannot
    be told): a dict pairs by output name, a list by the order of the model's outputs."""
    losses = getattr(model, "loss", None)
    names = [output["name"] for output in outputs]
    if isinstance(losses, dict):
        pairs = list(losses.items())
    elif isinstance(losses, (list, tuple)):
        pairs = [
            (names[i] if i < len(names) and len(losses) == len(names) else None, loss) for i, loss in enumerate(losses)
        ]
    else:
        pairs = [(names[0] if len(names) == 1 else None, losses)]
    described = []
    for output, loss in pairs:
        if isinstance(loss, str):
            entry = {"name": loss, "from_logits": False, "builtin": True}
        elif loss is None:
            continue
        else:
            config = loss.get_config() if hasattr(loss, "get_config") else {}
            name = config.get("name") or getattr(loss, "__name__", type(loss).__name__)
            entry = {
                "name": str(name),
                "from_logits": bool(config.get("from_logits", False)),
                "builtin": _is_keras(loss),
            }
        described.append({**entry, "output": output})
    return described


def _optimizer(model):
    optimizer = getattr(model, "optimizer", None)  # None before compile
    if optimizer is None:
        return {}
    facts = {"class": type(optimizer).__name__}
    try:
        facts["iterations"] = int(optimizer.iterations)  # when the fit starts: TensorBoard's first step
    except (TypeError, ValueError, AttributeError):
        pass
    try:
        facts["learning_rate"] = float(optimizer.learning_rate)
    except (TypeError, ValueError):
        pass
    config = optimizer.get_config()
    for key in ("momentum", "beta_1", "beta_2", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay"):
        if isinstance(config.get(key), (int, float)):
            facts[key] = float(config[key])
    schedule = config.get("learning_rate")
    if isinstance(schedule, dict):
        facts["schedule"] = schedule.get("class_name", "schedule")
    return facts


def initial_kernels(model):
    """Mean, std and |max| of each kernel before training, ``{weight path: {...}}`` (empty if unbuilt)."""
    import numpy as np

    kernels = {}
    for weight in model.trainable_weights:
        if weight.path.endswith("kernel"):
            values = np.asarray(weight.numpy(), np.float64)
            kernels[weight.path] = {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "abs_max": float(np.abs(values).max()),
                "count": int(values.size),
            }
    return kernels


def shapes(tensors):
    """Static shapes of a (nested) batch, as lists with None for unknown sizes."""
    import tensorflow as tf

    return [[None if d is None else int(d) for d in t.shape] for t in tf.nest.flatten(tensors) if hasattr(t, "shape")]


def output_shapes(model):
    try:
        return shapes(model.outputs)
    except (AttributeError, ValueError, TypeError):  # a subclassed model has no symbolic outputs
        return []


#: The facts ``note_targets`` writes while the train step is traced (a fit that reuses a compiled step inherits them).
TRACED_FACTS = ("target_shapes", "output_shapes", "loss_broadcasts")


def note_targets(facts, model, y):
    """What a batch's targets tell (at trace time): their shapes, the outputs', and whether the loss broadcasts
    one against the other."""
    facts["target_shapes"] = shapes(y)
    if not facts.get("output_shapes"):
        facts["output_shapes"] = output_shapes(model)
    targets, outputs = facts["target_shapes"], facts["output_shapes"]
    if len(targets) == 1 and len(outputs) == 1 and targets != outputs:
        facts["loss_broadcasts"] = loss_broadcasts(model, targets[0], outputs[0])


def loss_broadcasts(model, target_shape, output_shape):
    """Whether the model's loss, as the compiled model computes it (``model.compute_loss``: Keras aligns the
    ranks of a plain function's arguments, a ``Loss`` subclass's ``call`` gets them as they are), gives another
    value when the targets have the shape the data has rather than the output's: then it broadcasts them, e.g.
    ``(b,) - (b, 1)`` to ``(b, b)``.

    Keras's own losses bring both to one rank first, so the two values agree; None when it cannot be told.
    Runs the loss eagerly on a few made-up values, outside any graph being traced; the metrics it updates are
    restored.
    """
    import numpy as np
    import tensorflow as tf

    loss = getattr(model, "loss", None)
    if loss is None or _is_keras(loss) or None in output_shape[1:] or None in target_shape[1:]:
        return None
    batch = 4
    prediction = np.random.default_rng(0).uniform(0.1, 0.9, (batch, *output_shape[1:])).astype("float32")
    if int(np.prod(target_shape[1:], dtype=np.int64)) != int(np.prod(output_shape[1:], dtype=np.int64)):
        return None
    targets = np.flip(prediction, 0).reshape(batch, *target_shape[1:])

    def value(y_true):
        kept = [tf.identity(v) for v in getattr(model, "metrics_variables", [])]
        try:
            result = model.compute_loss(y=tf.constant(y_true), y_pred=tf.constant(prediction), training=False)
        finally:
            for variable, saved in zip(getattr(model, "metrics_variables", []), kept):
                variable.assign(saved)
        return np.mean(np.asarray(result, np.float64))

    try:
        with tf.init_scope():
            as_given, same_shape = value(targets), value(targets.reshape(prediction.shape))
    except Exception:  # the loss needs something else (integer labels, a structure, x): nothing to say
        return None
    return bool(np.isfinite(as_given) and np.isfinite(same_shape) and not np.isclose(as_given, same_shape, rtol=1e-4))


def _is_keras(loss):
    if isinstance(loss, str):
        return True
    module = getattr(loss, "__module__", None) or type(loss).__module__
    return module.split(".")[0] in ("keras", "tensorflow", "tf_keras")


def model_facts(model):
    layers = []
    index_of = {layer.name: index for index, layer in enumerate(model.layers)}
    for index, layer in enumerate(model.layers):
        layers.append(
            {
                "index": index,
                "name": layer.name,
                "class": type(layer).__name__,
                "source": origin_of(layer),
                "activation": _activation_name(layer),
                "units": _units(layer),
                "regularization": _regularization(layer),
                "weights": len(layer.trainable_weights),
                "frozen": bool(layer.weights) and not layer.trainable_weights,
                "submodel": hasattr(layer, "layers") and hasattr(layer, "compile"),
                "inbound": _inbound(layer, index_of),
                "sublayers": sorted({type(sub).__name__ for sub in _sublayers(layer)}) if not _is_keras(layer) else [],
            }
        )
    outputs = _output_layers(model, index_of)
    return {
        "layers": layers,
        "losses": _losses(model, outputs),
        "optimizer": _optimizer(model),
        "outputs": outputs,
        "custom_train_step": _custom_train_step(model),
        "initial_kernels": initial_kernels(model) if model.built else {},
        "output_shapes": output_shapes(model) if model.built else [],
        "target_shapes": [],  # set by the probe when it sees the first batch
        "loss_broadcasts": None,  # likewise (see loss_broadcasts)
    }
