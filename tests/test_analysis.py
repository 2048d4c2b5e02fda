"""Each analysis rule on synthetic traces: a trace that must fire it, and a near miss that must not."""

import numpy as np
import pytest

from dnn_instrument.runtime import analysis
from dnn_instrument.runtime.analysis import numerical, static, training
from dnn_instrument.runtime.record.stats import COLUMN, STATS
from dnn_instrument.runtime.record.trace import TraceStore
from dnn_instrument.runtime.vocabulary import PHASE


def layer(index, name, cls="Dense", activation="relu", units=8, weights=2, regularization=None):
    return {
        "index": index,
        "name": name,
        "class": cls,
        "source": f"train.py:{10 + index}",
        "activation": activation,
        "units": units,
        "regularization": regularization,
        "weights": weights,
    }


def trace(
    layers, loss="sparse_categorical_crossentropy", from_logits=False, optimizer=None, iterations=40, initial=None
):
    """A trace of a healthy MLP (inputs of order 1, moving weights, falling loss); tests then break one thing."""
    store = TraceStore()
    store.facts = {
        "layers": layers,
        "losses": [{"name": loss, "from_logits": from_logits}],
        "optimizer": optimizer or {"class": "Adam", "learning_rate": 0.001},
        "initial_kernels": initial or {},
    }
    store.layers = layers
    sites = [
        {"phase": "input", "layer_index": None, "layer": "", "tensor": "x"},
        {"phase": "target", "layer_index": None, "layer": "", "tensor": "y"},
    ]
    for l in layers:
        sites.append({"phase": "forward", "layer_index": l["index"], "layer": l["name"], "tensor": "output"})
    for l in layers:
        if l["weights"]:
            for phase in ("gradient", "weight", "update"):
                sites.append(
                    {"phase": phase, "layer_index": l["index"], "layer": l["name"], "tensor": f"{l['name']}/kernel"}
                )
    sites.append({"phase": "loss", "layer_index": None, "layer": "", "tensor": "loss"})
    store.set_sites(sites)
    values = np.zeros((iterations, len(sites), len(STATS)), np.float32)
    values[:, :, COLUMN["count"]] = 64
    values[:, :, COLUMN["std"]] = 0.5
    values[:, :, COLUMN["abs_max"]] = 2.0
    values[:, :, COLUMN["max"]] = 2.0
    values[:, :, COLUMN["min"]] = -2.0
    values[:, :, COLUMN["frac_zero"]] = 0.4
    for i, site in enumerate(sites):
        if site["phase"] == "target":
            values[:, i, COLUMN["min"]], values[:, i, COLUMN["max"]] = 0, 2
        norm = {"gradient": 0.5, "weight": 5.0, "update": 0.005}.get(site["phase"])
        if norm:
            values[:, i, COLUMN["norm"]] = norm
        if site["phase"] == "loss":
            values[:, i, COLUMN["mean"]] = np.linspace(2.3, 0.3, iterations)
        unmeasured = [COLUMN[name] for name in STATS if name not in PHASE[site["phase"]].measures]
        values[:, i, unmeasured] = np.nan  # as recorded: NaN where the phase does not measure
    store.append(list(np.repeat(np.arange(4), iterations // 4)), list(range(iterations)), values)
    store.close = lambda: None
    return store


def set_series(store, phase, index, stat, value, start=0):
    rows = [i for i, s in enumerate(store.sites) if s["phase"] == phase and s["layer_index"] == index]
    store.values[start:, rows, COLUMN[stat]] = value


MLP = [layer(0, "dense"), layer(1, "dense_1"), layer(2, "dense_2", activation="softmax", units=3)]


def test_healthy_trace_has_no_finding():
    assert analysis.analyse(trace(MLP)) == []


def test_nan_born_in_a_lambda_is_a_numerical_operation():
    layers = [layer(0, "dense"), layer(1, "lambda", cls="Lambda", activation=None, weights=0), MLP[2]]
    store = trace(layers)
    set_series(store, "forward", 1, "frac_inf", 0.3, start=7)
    set_series(store, "forward", 2, "frac_nan", 1.0, start=7)  # spread to the next layer: not where it is born
    finding = numerical.numerical_error(analysis.TraceView(store))[0]
    assert (finding["layer"], finding["phase"], finding["iteration"], finding["cause"]) == (
        "lambda",
        "forward",
        7,
        "numerical_operation",
    )
    assert finding["source"] == "train.py:11"


def test_nan_after_weights_explode_is_the_learning_rate():
    store = trace(MLP)
    set_series(store, "weight", 0, "norm", 5e6, start=2)
    set_series(store, "loss", None, "frac_inf", 1.0, start=3)
    finding = numerical.numerical_error(analysis.TraceView(store))[0]
    assert finding["cause"] == "learning_rate" and finding["iteration"] == 3


def test_nan_in_inputs_is_data():
    store = trace(MLP)
    set_series(store, "input", None, "frac_nan", 0.01)
    set_series(store, "forward", 0, "frac_nan", 1.0)
    finding = analysis.analyse(store)[0]
    assert (finding["cause"], finding["phase"]) == ("data", "input")


@pytest.mark.parametrize("zeros, fires", [(1.0, True), (0.9, False)])
def test_dead_relu(zeros, fires):
    store = trace(MLP)
    set_series(store, "forward", 1, "frac_zero", zeros, start=10)
    findings = training.dead_relu(analysis.TraceView(store))
    assert bool(findings) == fires
    if fires:
        assert (
            findings[0]["layer"] == "dense_1" and findings[0]["iteration"] == 10 and findings[0]["cause"] == "dead_relu"
        )


@pytest.mark.parametrize("share, fires", [(0.97, True), (0.5, False)])
def test_saturated_hidden_sigmoid(share, fires):
    layers = [layer(0, "dense", activation="sigmoid"), MLP[1], MLP[2]]
    store = trace(layers)
    set_series(store, "forward", 0, "frac_saturated", share)
    assert bool(training.saturation(analysis.TraceView(store))) == fires


@pytest.mark.parametrize("first_gradient, fires", [(1e-6, True), (1e-2, False)])
def test_vanishing_gradient(first_gradient, fires):
    store = trace(MLP)
    set_series(store, "gradient", 0, "norm", first_gradient)
    findings = training.vanishing_gradient(analysis.TraceView(store))
    assert bool(findings) == fires
    if fires:
        assert findings[0]["layer"] == "dense"


@pytest.mark.parametrize(
    "update, expected", [(6.0, "learning_rate_too_high"), (1.0, None), (1e-8, "learning_rate_too_low"), (0.02, None)]
)
def test_learning_rate(update, expected):
    store = trace(MLP)
    for index in (0, 1, 2):
        set_series(store, "update", index, "norm", update)
    findings = training.learning_rate(analysis.TraceView(store))
    assert [f["symptom"] for f in findings] == ([expected] if expected else [])


@pytest.mark.parametrize("scale, fires", [(255.0, True), (3.0, False)])
def test_unnormalized_input(scale, fires):
    store = trace(MLP)
    set_series(store, "input", None, "abs_max", scale)
    assert bool(training.input_scale(analysis.TraceView(store))) == fires


def test_input_scale_ignores_token_ids():
    layers = [layer(0, "embedding", cls="Embedding", activation=None, weights=1), *MLP[1:]]
    store = trace(layers)
    set_series(store, "input", None, "abs_max", 5000.0)
    assert training.input_scale(analysis.TraceView(store)) == []


@pytest.mark.parametrize("std, fires", [(0.0, True), (0.1, False)])
def test_identical_initial_units(std, fires):
    initial = {"dense/kernel": {"mean": 0.1, "std": std, "abs_max": 0.1 + std, "count": 256}}
    store = trace(MLP, initial=initial)
    findings = training.initialization(analysis.TraceView(store))
    assert bool(findings) == fires


@pytest.mark.parametrize(
    "output, loss, from_logits, cause",
    [
        (layer(2, "out", activation="softmax", units=1), "binary_crossentropy", False, "last_layer_activation"),
        (layer(2, "out", activation="softmax", units=1), "categorical_crossentropy", False, "loss_function"),
        (layer(2, "out", activation="linear", units=10), "categorical_crossentropy", False, "last_layer_activation"),
        (layer(2, "out", activation="linear", units=10), "categorical_crossentropy", True, None),
        (layer(2, "out", activation="sigmoid", units=1), "binary_crossentropy", False, None),
        (layer(2, "out", activation="softmax", units=10), "mse", False, "loss_function"),
    ],
)
def test_output_activation_and_loss(output, loss, from_logits, cause):
    store = trace([MLP[0], MLP[1], output], loss=loss, from_logits=from_logits)
    set_series(store, "target", None, "max", 1.0)
    findings = static.output_activation_and_loss(analysis.TraceView(store))
    assert [f["cause"] for f in findings] == ([cause] if cause else [])
    if cause:
        assert findings[0]["layer"] == "out" and findings[0]["phase"] == "static"


@pytest.mark.parametrize("low, high, cause", [(-1, 1, "label_format"), (0, 2, "loss_function"), (0, 1, None)])
def test_binary_crossentropy_labels(low, high, cause):
    store = trace([MLP[0], MLP[1], layer(2, "out", activation="sigmoid", units=1)], loss="binary_crossentropy")
    set_series(store, "target", None, "min", low)
    set_series(store, "target", None, "max", high)
    findings = static.output_activation_and_loss(analysis.TraceView(store))
    assert [f["cause"] for f in findings] == ([cause] if cause else [])


@pytest.mark.parametrize("high, cause", [(5.0, "last_layer_activation"), (100.0, "output_range"), (0.9, None)])
def test_regression_targets_outside_a_sigmoid(high, cause):
    store = trace([MLP[0], MLP[1], layer(2, "out", activation="sigmoid", units=1)], loss="mse")
    set_series(store, "target", None, "min", 0.1)
    set_series(store, "target", None, "max", high)
    findings = static.output_activation_and_loss(analysis.TraceView(store))
    assert [f["cause"] for f in findings] == ([cause] if cause else [])


def test_missing_activation_between_dense_layers():
    layers = [
        layer(0, "dense", activation="linear"),
        layer(1, "dropout", cls="Dropout", activation=None, weights=0),
        layer(2, "dense_1"),
        layer(3, "out", activation="softmax", units=3),
    ]
    findings = static.missing_activation(analysis.TraceView(trace(layers)))
    assert [f["layer"] for f in findings] == ["dense"]
    layers[0] = layer(0, "dense", activation="relu")
    assert static.missing_activation(analysis.TraceView(trace(layers))) == []


def test_invalid_optimizer_settings():
    store = trace(MLP, optimizer={"class": "Adam", "learning_rate": 0.001, "beta_1": 1.5})
    assert [f["cause"] for f in static.optimizer_settings(analysis.TraceView(store))] == ["optimizer"]
    store = trace(MLP, optimizer={"class": "SGD", "learning_rate": 0.01, "momentum": 0.9, "clipnorm": 1.0})
    assert static.optimizer_settings(analysis.TraceView(store)) == []


def test_strong_regularization():
    layers = [layer(0, "dense", regularization={"l2": 10.0}), layer(1, "dense_1", regularization={"l2": 1e-4}), MLP[2]]
    findings = static.regularization(analysis.TraceView(trace(layers)))
    assert [f["layer"] for f in findings] == ["dense"]


def test_findings_are_ranked_root_cause_first():
    store = trace(MLP)
    set_series(store, "input", None, "abs_max", 300.0)
    set_series(store, "forward", 1, "frac_zero", 1.0, start=5)
    findings = analysis.analyse(store)
    assert [(f["symptom"], f["severity"], f.get("consequence_of")) for f in findings] == [
        ("unnormalized_input", "fault", None),
        ("dead_relu", "fault", 0),
    ]  # the smell is the failure's root
    assert findings[1]["cause"] == "input_normalization" and findings[1]["fix"] == ""


def test_inf_born_in_backward_is_blamed_on_the_custom_layer_reading_it():
    layers = [layer(0, "dense"), layer(1, "lambda", cls="Lambda", activation=None, weights=0), MLP[2]]
    store = trace(layers)
    rows = [i for i, s in enumerate(store.sites) if s["phase"] == "forward"]
    store.sites.insert(rows[-1] + 1, {"phase": "backward", "layer_index": 0, "layer": "dense", "tensor": "output"})
    store._blocks = [np.insert(store.values, rows[-1] + 1, store.values[:, 0], axis=1)]
    set_series(store, "backward", 0, "frac_inf", 0.5, start=4)
    finding = numerical.numerical_error(analysis.TraceView(store))[0]
    assert (finding["layer"], finding["cause"], finding["phase"]) == ("lambda", "numerical_operation", "backward")


@pytest.mark.parametrize("magnitude, cause", [(1e9, "exploding_gradient"), (10.0, "exploding_gradient")])
def test_activations_exploding_at_the_first_step(magnitude, cause):
    store = trace(MLP)
    set_series(store, "forward", 1, "abs_max", magnitude)
    set_series(store, "gradient", 1, "frac_inf", 1.0, start=1)
    finding = numerical.numerical_error(analysis.TraceView(store))[0]
    assert finding["cause"] == cause
    assert (finding["layer"] == "dense_1" and finding["phase"] == "forward") == (magnitude > 1e6)


@pytest.mark.parametrize("single, fires", [(1.0, True), (0.1, False)])
def test_batches_of_a_single_label(single, fires):
    store = trace(MLP)
    set_series(store, "target", None, "std", 0.8)
    set_series(store, "target", None, "std", 0.0, start=int(40 * (1 - single)))
    rows = [i for i, s in enumerate(store.sites) if s["phase"] == "target"]
    store.values[:, rows, COLUMN["mean"]] = np.repeat([0.0, 1.0, 2.0, 3.0], 10)[:, None]
    assert bool(training.data_order(analysis.TraceView(store))) == fires


@pytest.mark.parametrize("validation, fires", [(0.05, True), (0.85, False)])
def test_validation_gap(validation, fires):
    store = trace(MLP)
    store.epoch_logs = [{"epoch": 0, "accuracy": 0.95, "val_accuracy": validation}]
    assert bool(training.validation_gap(analysis.TraceView(store))) == fires


@pytest.mark.parametrize(
    "iterations, epochs, severity",
    [
        (10, 10, "fault"),  # one step an epoch: the batch is the whole training set
        (20, 2, "warning"),  # ten steps an epoch, two epochs: a short run, too short to judge
        (200, 4, None),  # enough updates
    ],
)
def test_too_few_updates(iterations, epochs, severity):
    store = trace(MLP, iterations=iterations)
    store._epochs = list(np.repeat(np.arange(epochs), iterations // epochs))
    set_series(store, "loss", None, "mean", 2.0)
    findings = training.too_few_updates(analysis.TraceView(store))
    assert [f.get("severity", "fault") for f in findings] == ([severity] if severity else [])
    if severity == "fault":
        assert findings[0]["cause"] == "batch_size" and "smaller batches" in findings[0]["fix"]


@pytest.mark.parametrize("growth, fires", [(1e5, True), (10.0, False)])
def test_exploding_gradient_norms(growth, fires):
    store = trace(MLP)
    set_series(store, "gradient", 1, "norm", 0.5 * growth, start=20)  # 0.5 -> 0.5 * growth
    findings = training.exploding_gradient(analysis.TraceView(store))
    assert bool(findings) == fires
    if fires:
        assert findings[0]["layer"] == "dense_1" and findings[0]["iteration"] == 20


@pytest.mark.parametrize("update, fires", [(0.0, True), (1e-4, False)])
def test_unchanged_weights(update, fires):
    store = trace(MLP)
    set_series(store, "update", 1, "norm", update)
    findings = training.unchanged_weights(analysis.TraceView(store))
    assert [f["layer"] for f in findings] == (["dense_1"] if fires else [])


@pytest.mark.parametrize("end, fires", [(2.3, True), (1.5, False)])
def test_loss_not_decreasing(end, fires):
    store = trace(MLP)
    set_series(store, "loss", None, "mean", np.linspace(2.3, end, 40)[:, None])
    assert bool(training.loss_not_decreasing(analysis.TraceView(store))) == fires


@pytest.mark.parametrize("swing, fires", [(1.5, True), (0.2, False)])
def test_oscillating_loss(swing, fires):
    store = trace(MLP)
    level = 1.0 + swing / 2 * (-1.0) ** np.arange(store.iterations)  # up and down around 1, not falling
    set_series(store, "loss", None, "mean", level[:, None])
    names = [f["symptom"] for f in analysis.analyse(store)]
    assert ("oscillating_loss" in names) == fires
    assert "loss_not_decreasing" in names or fires  # a stuck loss without the swings is the plainer symptom
    assert not ("oscillating_loss" in names and "loss_not_decreasing" in names)


def binary_trace(accuracies, positive_share):
    store = trace([layer(0, "dense"), layer(1, "out", activation="sigmoid", units=1)], loss="binary_crossentropy")
    set_series(store, "target", None, "min", 0.0)
    set_series(store, "target", None, "max", 1.0)
    set_series(store, "target", None, "mean", positive_share)
    store.epoch_logs = [{"epoch": i, "loss": 0.5, "accuracy": a} for i, a in enumerate(accuracies)]
    return store


@pytest.mark.parametrize(
    "accuracies, share, cause",
    [
        ([0.9, 0.9, 0.901, 0.9], 0.1, "data"),  # stuck at the majority share of imbalanced labels
        ([0.6, 0.6, 0.6, 0.6], 0.4, "learning_rate"),  # balanced-ish labels, one class predicted
        ([0.9, 0.93, 0.95, 0.97], 0.1, None),  # rises above the base rate
        ([0.7, 0.705, 0.71, 0.7], 0.5, None),  # flat, but not at the base rate and not constant
        ([0.9, 0.9], 0.1, None),  # too few epochs to tell
    ],
)
def test_accuracy_not_increasing(accuracies, share, cause):
    findings = training.accuracy_not_increasing(analysis.TraceView(binary_trace(accuracies, share)))
    assert [f["cause"] for f in findings] == ([cause] if cause else [])


@pytest.mark.parametrize(
    "target, output, broadcasts, fires",
    [
        ([None], [None, 1], True, True),  # the loss gives another value for (batch,) targets than for (batch, 1)
        ([None], [None, 1], False, False),  # Keras's own losses, or a user's that reshapes: no difference
        ([None, 1], [None, 1], None, False),
        ([None, 1], [None, 3], None, True),  # class indices against 3 outputs with a non-sparse loss
    ],
)
def test_target_shape(target, output, broadcasts, fires):
    store = trace([layer(0, "dense"), layer(1, "out", activation=None, units=output[-1])], loss="mean_squared_error")
    store.facts.update(target_shapes=[target], output_shapes=[output], loss_broadcasts=broadcasts)
    findings = static.target_shape(analysis.TraceView(store))
    assert [(f["cause"], f["layer"]) for f in findings] == ([("label_format", "out")] if fires else [])


def test_a_loss_that_broadcasts_is_told_from_one_that_does_not():
    import keras
    from keras import ops

    from dnn_instrument.runtime.record.facts import loss_broadcasts

    class RootMeanSquaredError(keras.losses.Loss):  # fixtures/corpus/a12: y_true - y_pred, no reshape
        def call(self, y_true, y_pred):
            return ops.sqrt(ops.mean(ops.square(y_true - y_pred)) + 1e-7)

    def wrapped(y_true, y_pred):  # a user's function around Keras's loss, which aligns the ranks
        return keras.losses.mean_squared_error(y_true, y_pred)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    for loss, expected in ((RootMeanSquaredError(), True), (wrapped, False), ("mse", None)):
        model.compile(loss=loss)
        assert loss_broadcasts(model, [None], [None, 1]) is expected, loss


# -- task type, graph, intent (issue 13) ------------------------------------------------------------------
from dnn_instrument.runtime.analysis.view import task_type  # noqa: E402


@pytest.mark.parametrize(
    "loss, activation, units, targets, expected",
    [
        ("sparse_categorical_crossentropy", "softmax", 10, (0, 9), "multiclass"),
        ("categorical_crossentropy", "linear", 3, (0, 1), "multiclass"),
        ("binary_crossentropy", "sigmoid", 1, (0, 1), "binary"),
        ("binary_crossentropy", "sigmoid", 5, (0, 1), "multilabel"),
        ("mse", "linear", 1, (-3.0, 250.0), "regression"),
        ("mean_absolute_error", "relu", 1, (0.0, 10.0), "regression"),
        ("mse", "softmax", 10, (0, 1), "multiclass"),  # a classifier trained with MSE is still a classifier
        ("mse", "sigmoid", 1, (0, 1), "binary"),
        ("mse", "sigmoid", 1, (0, 100), "regression"),  # targets a sigmoid cannot reach: a regression
        ("contrastive_loss", "linear", 1, (0, 1), None),  # a custom loss on a linear output: unknown
        ("focal", "softmax", 4, None, "multiclass"),
    ],
)
def test_task_type(loss, activation, units, targets, expected):
    assert task_type(loss, activation, units, targets) == expected


def test_accuracy_on_a_regression_is_a_meaningless_metric_not_one_class():
    store = trace([layer(0, "dense"), layer(1, "out", activation="linear", units=1)], loss="mse")
    set_series(store, "target", None, "min", -40.0)
    set_series(store, "target", None, "max", 300.0)
    set_series(store, "target", None, "std", 50.0)  # variance 2500: the loss (2.3 -> 0.3) is far below it
    store.epoch_logs = [{"epoch": i, "loss": 900.0 / (i + 1), "accuracy": 0.0} for i in range(4)]
    findings = analysis.analyse(store)
    assert [(f["symptom"], f["severity"]) for f in findings] == [("meaningless_metric", "warning")]


def test_standalone_activation_layers_are_the_activation_of_the_layer_before():
    """Dense(50); Activation('relu') ... Dense(3); Activation('softmax'): the Stack Overflow style."""
    layers = [
        layer(0, "dense", activation="linear"),
        layer(1, "activation", cls="Activation", activation="relu", weights=0),
        layer(2, "dense_1", activation="linear", units=3),
        layer(3, "activation_1", cls="Activation", activation="softmax", weights=0, units=3),
    ]
    store = trace(layers)
    view = analysis.TraceView(store)
    assert view.activation_of(0) == "relu" and view.owner(1) == 0 and view.output_layer["name"] == "activation_1"
    assert analysis.analyse(store) == []  # no "missing activation", no output mismatch
    set_series(store, "forward", 1, "frac_zero", 1.0, start=5)
    dead = training.dead_relu(analysis.TraceView(store))
    assert [(f["layer"], f["source"]) for f in dead] == [("dense", "train.py:10")]  # the line to change


def test_weightless_layers_never_enter_update_ratios():
    """A healthy model with RMSprop's small steps and standalone activations: no 'raise the learning rate'."""
    layers = [
        layer(0, "dense", activation="linear"),
        layer(1, "activation", cls="Activation", activation="relu", weights=0),
        layer(2, "out", activation="softmax", units=3),
    ]
    store = trace(layers, optimizer={"class": "RMSprop", "learning_rate": 0.001})
    set_series(store, "update", 0, "norm", 0.0, start=30)  # a layer that stopped moving late does not decide alone
    assert training.learning_rate(analysis.TraceView(store)) == []


@pytest.mark.parametrize("ratio, text", [(0.98, "from 5 to about 0.05"), (20.0, "from 5 to about 0.003")])
def test_learning_rate_fix_is_computed_from_the_update_ratio(ratio, text):
    store = trace(MLP, optimizer={"class": "SGD", "learning_rate": 5.0})
    for index in (0, 1, 2):
        set_series(store, "update", index, "norm", 5.0 * ratio)
    set_series(store, "forward", 1, "frac_zero", 1.0, start=5)
    findings = analysis.analyse(store)
    assert findings[0]["cause"] == "learning_rate" and text in findings[0]["fix"]
    dead = next(f for f in findings if f["symptom"] == "dead_relu")
    if ratio > 1:  # updates larger than the weights: the learning rate is a finding of its own, the root
        assert findings[0]["symptom"] == "learning_rate_too_high" and dead["consequence_of"] == 0 and dead["fix"] == ""
    else:  # the dead layer names the learning rate as its cause, with the value
        assert findings == [dead]


def test_saturation_after_huge_first_updates_is_the_learning_rate_with_a_value():
    layers = [layer(0, "dense", activation="tanh"), layer(1, "dense_1", activation="tanh"), MLP[2]]
    store = trace(layers, optimizer={"class": "Adam", "learning_rate": 1.0})
    for index in (0, 1, 2):
        set_series(store, "update", index, "norm", 1.0)  # 0.2x the weights
    set_series(store, "forward", 0, "frac_saturated", 0.99, start=2)
    finding = training.saturation(analysis.TraceView(store))[0]
    assert finding["cause"] == "learning_rate" and "from 1 to about 0.05" in finding["fix"]


def test_all_layers_frozen_is_nothing_to_train():
    layers = [
        {**layer(0, "dense", weights=0), "frozen": True},
        {**layer(1, "out", activation="softmax", units=3, weights=0), "frozen": True},
    ]
    findings = analysis.analyse(trace(layers))
    assert findings[0]["symptom"] == "nothing_to_train" and findings[0]["severity"] == "fault"
    partly = [{**layer(0, "dense", weights=0), "frozen": True}, layer(1, "out", activation="softmax", units=3)]
    assert training.nothing_to_train(analysis.TraceView(trace(partly))) == []  # fine-tuning a head


def test_a_sub_model_the_train_step_leaves_alone_is_a_design():
    layers = [{**layer(0, "teacher", cls="Functional"), "submodel": True}, layer(1, "student"), MLP[2]]
    store = trace(layers)
    set_series(store, "update", 0, "norm", 0.0)
    assert [(f["symptom"], f["severity"]) for f in analysis.analyse(store)] == [("frozen_by_design", "warning")]
    store.facts["custom_train_step"] = True
    layers[0]["submodel"] = False
    assert [f["severity"] for f in analysis.analyse(store)] == ["warning"]


def test_a_train_step_without_a_loss_key_is_not_nan():
    """A GAN's train_step returns d_loss/g_loss: the callback reads NaN for `loss`, which is no fault."""
    store = trace(MLP)
    store.mechanism = "callback"
    set_series(store, "loss", None, "frac_nan", 1.0)
    set_series(store, "loss", None, "mean", np.nan)
    store.epoch_logs = [{"epoch": i, "d_loss": 0.6, "g_loss": 0.9} for i in range(3)]
    assert [f for f in analysis.analyse(store) if f["severity"] == "fault"] == []


def test_validation_rising_is_progress_even_when_the_step_loss_is_flat():
    store = trace(MLP)
    set_series(store, "loss", None, "mean", 2.3)
    assert training.loss_not_decreasing(analysis.TraceView(store))
    store.epoch_logs = [{"epoch": i, "loss": 2.3, "val_accuracy": a} for i, a in enumerate([0.5, 0.5, 0.55, 0.9])]
    assert training.loss_not_decreasing(analysis.TraceView(store)) == []


def test_callback_loss_is_judged_per_epoch_not_as_a_running_mean():
    store = trace(MLP)
    store.mechanism = "callback"
    set_series(store, "loss", None, "mean", 0.5)  # flat per step: Keras's running mean
    store.epoch_logs = [{"epoch": i, "loss": v} for i, v in enumerate([0.554, 0.484, 0.409])]
    assert training.loss_not_decreasing(analysis.TraceView(store)) == []


@pytest.mark.parametrize("end, fires", [(1.09, True), (0.4, False)])
def test_loss_at_chance_level(end, fires):
    layers = [layer(0, "dense"), layer(1, "out", activation="softmax", units=3)]
    store = trace(layers)
    set_series(store, "loss", None, "mean", np.linspace(9.0, end, 40)[:, None])  # falls from 9 ...
    set_series(store, "loss", None, "mean", end, start=20)  # ... to ln 3 (uniform over 3 classes), or below
    findings = training.loss_at_chance_level(analysis.TraceView(store))
    assert bool(findings) == fires


def test_unnormalized_images_alone_are_a_warning_with_the_number():
    store = trace(MLP)
    set_series(store, "input", None, "abs_max", 255.0)
    set_series(store, "input", None, "min", 0.0)
    findings = analysis.analyse(store)
    assert [(f["symptom"], f["severity"]) for f in findings] == [("unnormalized_input", "warning")]
    assert "divide the images by 255 (values reach 255)" in findings[0]["fix"] and "train.py:10" in findings[0]["fix"]


def graph(layers, inbound, outputs, losses):
    store = trace(layers)
    for index, feeding in inbound.items():
        layers[index]["inbound"] = feeding
    store.facts["outputs"] = [{"name": layers[i]["name"], "layer_index": i} for i in outputs]
    store.facts["losses"] = losses
    return store


def test_parallel_heads_are_not_a_chain_and_losses_pair_by_list_order():
    layers = [
        layer(0, "input", cls="InputLayer", activation=None, weights=0),
        layer(1, "trunk"),
        layer(2, "priority", activation="sigmoid", units=1),
        layer(3, "department", activation="softmax", units=4),
    ]
    losses = [
        {"name": "mse", "from_logits": False, "output": "priority"},
        {"name": "sparse_categorical_crossentropy", "from_logits": False, "output": "department"},
    ]
    store = graph(layers, {1: [0], 2: [1], 3: [1]}, [2, 3], losses)
    view = analysis.TraceView(store)
    assert [(o["name"], l["name"]) for o, l in view.output_loss_pairs()] == [
        ("priority", "mse"),
        ("department", "sparse_categorical_crossentropy"),
    ]
    assert static.output_activation_and_loss(view) == [] and static.missing_activation(view) == []


def test_losses_pair_by_dict_name():
    layers = [
        layer(0, "trunk"),
        layer(1, "a", activation="softmax", units=3),
        layer(2, "b", activation="linear", units=1),
    ]
    losses = [
        {"name": "mse", "from_logits": False, "output": "b"},  # a dict in another order than the outputs
        {"name": "categorical_crossentropy", "from_logits": False, "output": "a"},
    ]
    store = graph(layers, {1: [0], 2: [0]}, [1, 2], losses)
    assert static.output_activation_and_loss(analysis.TraceView(store)) == []
    losses[0]["output"], losses[1]["output"] = "a", "b"  # mse on the softmax, cce on the linear head
    assert {f["layer"] for f in static.output_activation_and_loss(analysis.TraceView(store))} == {"a", "b"}


def test_a_linear_dense_feeding_a_dense_in_the_graph_is_found():
    layers = [
        layer(0, "dense", activation="linear"),
        layer(1, "dense_1"),
        layer(2, "out", activation="softmax", units=3),
    ]
    store = graph(
        layers,
        {1: [0], 2: [1]},
        [2],
        [{"name": "sparse_categorical_crossentropy", "from_logits": False, "output": "out"}],
    )
    assert [f["layer"] for f in static.missing_activation(analysis.TraceView(store))] == ["dense"]


def test_token_ids_into_an_embedding_inside_a_custom_layer_are_not_unnormalized():
    layers = [
        {**layer(0, "encoder", cls="TokenEncoder", activation=None), "sublayers": ["Embedding", "Dense"]},
        *MLP[1:],
    ]
    store = trace(layers)
    set_series(store, "input", None, "abs_max", 9000.0)
    assert training.input_scale(analysis.TraceView(store)) == []


def test_a_loss_falling_to_chance_with_accuracy_at_the_base_rate_learned_nothing():
    """Binary, balanced: the epoch loss falls from a bad start to ln 2 and accuracy creeps to 0.52."""
    store = trace([layer(0, "dense"), layer(1, "out", activation="sigmoid", units=1)], loss="binary_crossentropy")
    set_series(store, "target", None, "min", 0.0)
    set_series(store, "target", None, "max", 1.0)
    set_series(store, "target", None, "mean", 0.5)
    set_series(store, "loss", None, "mean", np.linspace(0.75, 0.69, 40)[:, None])
    store.epoch_logs = [
        {"epoch": i, "loss": l, "accuracy": a}
        for i, (l, a) in enumerate([(0.716, 0.465), (0.696, 0.49), (0.69, 0.5), (0.689, 0.517)])
    ]
    findings = training.loss_at_chance_level(analysis.TraceView(store))
    assert [f["symptom"] for f in findings] == ["loss_at_chance_level"]
    store.epoch_logs[-1]["accuracy"] = 0.8  # well above the base rate: it learns
    assert training.loss_at_chance_level(analysis.TraceView(store)) == []


def test_model_facts_read_the_graph_the_outputs_and_the_losses():
    import keras
    from keras import layers

    from dnn_instrument.runtime.record.facts import model_facts

    class Head(layers.Layer):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = layers.Dense(4, activation="relu"), layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.out(self.hidden(x))

    inputs = keras.Input((3,))
    trunk = layers.Dense(8, activation="relu", name="trunk")(inputs)
    a = Head()(trunk)
    b = layers.Dense(2, activation="softmax", name="b")(layers.Dense(4, name="b_hidden")(trunk))
    model = keras.Model(inputs, [a, b])
    model.compile(loss={"b": "sparse_categorical_crossentropy", model.output_names[0]: "binary_crossentropy"})
    facts = model_facts(model)
    by_name = {layer["name"]: layer for layer in facts["layers"]}
    head = next(layer for layer in facts["layers"] if layer["class"] == "Head")
    assert head["activation"] == "sigmoid" and "Dense" in head["sublayers"]
    assert by_name["b"]["inbound"] == [by_name["b_hidden"]["index"]] and by_name["b_hidden"]["inbound"] == [
        by_name["trunk"]["index"]
    ]
    assert [o["layer_index"] for o in facts["outputs"]] == [head["index"], by_name["b"]["index"]]
    assert {(loss["output"], loss["name"]) for loss in facts["losses"]} == {
        (model.output_names[0], "binary_crossentropy"),
        ("b", "sparse_categorical_crossentropy"),
    }
    assert by_name["trunk"]["frozen"] is False

    sequential = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Activation("relu"), layers.Dense(1)])
    sequential.layers[0].trainable = False
    layers_facts = model_facts(sequential)["layers"]
    assert layers_facts[1]["inbound"] == [0] and layers_facts[0]["frozen"] and not layers_facts[2]["frozen"]


def test_gradients_exploding_after_huge_first_updates_are_the_learning_rate():
    store = trace(MLP, optimizer={"class": "SGD", "learning_rate": 0.5})
    for index in (0, 1, 2):
        set_series(store, "update", index, "norm", 2.0)  # 0.4x the weights from the first step
    set_series(store, "gradient", 1, "norm", 5e4, start=20)
    finding = training.exploding_gradient(analysis.TraceView(store))[0]
    assert (
        finding["cause"] == "learning_rate"
        and "from 0.5 to about 0.01" in finding["fix"]
        and finding["iteration"] == 20
    )
