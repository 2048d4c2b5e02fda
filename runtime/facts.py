"""What the analysis needs to know about a model besides its trace: layers, activations, loss, optimizer.

``model_facts(model)`` is plain data (JSON-ready), taken once when a ``fit`` starts.
"""

from .origins import origin_of

REGRESSION_LOSSES = {
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "huber_loss", "log_cosh", "logcosh",
    "mean_squared_logarithmic_error", "msle", "mean_absolute_percentage_error", "mape",
}
PROBABILISTIC_LOSSES = {"binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy"}


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        names = {"Softmax": "softmax", "ReLU": "relu", "LeakyReLU": "leaky_relu"}
        return names.get(type(layer).__name__)
    return getattr(activation, "__name__", type(activation).__name__)


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


def _losses(model):
    losses = getattr(model, "loss", None)
    if isinstance(losses, dict):
        losses = list(losses.values())
    elif not isinstance(losses, (list, tuple)):
        losses = [losses]
    described = []
    for loss in losses:
        if isinstance(loss, str):
            described.append({"name": loss, "from_logits": False, "builtin": True})
        elif loss is None:
            continue
        else:
            config = loss.get_config() if hasattr(loss, "get_config") else {}
            name = config.get("name") or getattr(loss, "__name__", type(loss).__name__)
            described.append({"name": str(name), "from_logits": bool(config.get("from_logits", False)), "builtin": _is_keras(loss)})
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
                "mean": float(values.mean()), "std": float(values.std()),
                "abs_max": float(np.abs(values).max()), "count": int(values.size),
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
    """Whether the model's own (not Keras's) loss gives another value when the targets have the shape the
    data has rather than the output's: then it broadcasts them, e.g. ``(b,) - (b, 1)`` to ``(b, b)``.

    Keras's losses bring both to one rank first, so the two values agree; None when it cannot be told.
    Runs the loss eagerly on a few made-up values, outside any graph being traced.
    """
    import numpy as np
    import tensorflow as tf

    loss = getattr(model, "loss", None)
    function = getattr(loss, "call", None) if hasattr(loss, "get_config") else loss
    if not callable(function) or _is_keras(loss) or None in output_shape[1:] or None in target_shape[1:]:
        return None
    batch = 4
    prediction = np.random.default_rng(0).uniform(0.1, 0.9, (batch, *output_shape[1:])).astype("float32")
    if int(np.prod(target_shape[1:], dtype=np.int64)) != int(np.prod(output_shape[1:], dtype=np.int64)):
        return None
    targets = np.flip(prediction, 0).reshape(batch, *target_shape[1:])
    try:
        with tf.init_scope():
            as_given = np.mean(np.asarray(function(tf.constant(targets), tf.constant(prediction)), np.float64))
            same_shape = np.mean(np.asarray(function(tf.constant(targets.reshape(prediction.shape)), tf.constant(prediction)), np.float64))
    except Exception:  # the loss needs something else (integer labels, a structure): nothing to say
        return None
    return bool(np.isfinite(as_given) and np.isfinite(same_shape) and not np.isclose(as_given, same_shape, rtol=1e-4))


def _is_keras(loss):
    if isinstance(loss, str):
        return True
    module = getattr(loss, "__module__", None) or type(loss).__module__
    return module.split(".")[0] in ("keras", "tensorflow", "tf_keras")


def model_facts(model):
    layers = []
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
            }
        )
    return {
        "layers": layers, "losses": _losses(model), "optimizer": _optimizer(model),
        "initial_kernels": initial_kernels(model) if model.built else {},
        "output_shapes": output_shapes(model) if model.built else [],
        "target_shapes": [],  # set by the probe when it sees the first batch
        "loss_broadcasts": None,  # likewise (see loss_broadcasts)
    }
