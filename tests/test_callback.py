"""The ``Diagnose`` callback records inside Keras's train function (``runtime/callback.py``): training exactly as
plain ``fit``, the same trace as its per-batch path, the model given back after the fit, and the per-batch path
where the compiled one does not run."""

import keras
import numpy as np
import pytest
from conftest import ops_that_ran

from dnn_instrument.runtime import callback, safety
from dnn_instrument.runtime.callback import Diagnose
from dnn_instrument.runtime.report import document as report

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(96, 5)).astype("float32"), RNG.integers(0, 3, 96)


def train(callbacks, learning_rate=0.01, epochs=2, model=None):
    """A small model (dropout, batch normalization, a metric) trained from seed 0; its weights and History."""
    keras.utils.set_random_seed(0)
    if model is None:
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(8, activation="relu", name="hidden"),
                keras.layers.Dropout(0.3, name="dropout"),
                keras.layers.BatchNormalization(name="normalized"),
                keras.layers.Dense(3, activation="softmax", name="out"),
            ],
            name="model",  # the same weight paths in every run
        )
        model.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X, Y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks)
    return model, history.history


def per_batch(monkeypatch):
    """The per-batch path: a step cap (``dnn-instrument fix``) far beyond this fit's steps."""
    monkeypatch.setenv("DNN_INSTRUMENT_MAX_STEPS", "1000")


@pytest.mark.parametrize("learning_rate", [0.01, 1e30])  # 1e30: the weights overflow in the first steps
def test_compiled_recording_trains_as_fit_and_records_as_the_per_batch_path(learning_rate, monkeypatch, runs_dir):
    monkeypatch.setenv("DNN_INSTRUMENT_STOP", "never")
    monkeypatch.setattr(callback, "FLUSH_EVERY", 5)  # the buffer is read within epochs (24 steps each) too
    plain_model, plain_history = train([], learning_rate)
    compiled = Diagnose("test:1", sample=(X, Y))
    model, history = train([compiled], learning_rate)
    assert compiled._in_graph
    assert history == plain_history or str(history) == str(plain_history)  # (NaN != NaN)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(model.get_weights(), plain_model.get_weights()))

    per_batch(monkeypatch)
    batched = Diagnose("test:1", sample=(X, Y))
    train([batched], learning_rate)
    assert not batched._in_graph
    assert compiled.store.sites == batched.store.sites and compiled.store.iterations == batched.store.iterations == 48
    assert np.array_equal(compiled.store.epochs, batched.store.epochs)
    assert np.array_equal(compiled.store.steps, batched.store.steps)
    np.testing.assert_array_equal(compiled.store.values, batched.store.values)  # NaN equal to NaN
    findings = [report.build("train.py", [d.store])["findings"] for d in (compiled, batched)]
    keys = ("symptom", "layer", "phase", "iteration")
    assert [[f[k] for k in keys] for f in findings[0]] == [[f[k] for k in keys] for f in findings[1]]
    if learning_rate > 1:
        assert findings[0][0]["symptom"] == "numerical_error" and findings[0][0]["iteration"] < 4


def test_the_recording_train_function_runs_without_switch_and_merge(runs_dir):
    """The choice of running the side pass in a step stays an ``If`` op, as the statistics' conds do
    (``stats.functional_cond``): lowered to ``Switch``/``Merge``, it would make TensorFlow run every op of Keras's
    train function, the training's too, under its slower general propagator (``fit``'s step has none). Checked in
    the graphs that ran."""
    recording = Diagnose("test:1", sample=(X, Y))
    _, ran = ops_that_ran(lambda: train([recording], epochs=1))
    assert recording._in_graph and recording.store.iterations == 24
    assert "If" in ran or "StatelessIf" in ran
    assert "Switch" not in ran and "Merge" not in ran


def test_an_update_is_the_change_keras_step_made(runs_dir):
    """The compiled path reads the weights as Keras's step begins: a change that a callback of the user's makes
    between two steps shows in the next step's weight rows, not as an update (with a learning rate of 0, every update
    is exactly zero while each step's kernel is 1 above the last)."""
    from dnn_instrument.runtime.record.stats import COLUMN

    class Nudge(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            kernel = self.model.layers[0].kernel
            kernel.assign(kernel + 1.0)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, name="dense")], name="nudged")
    model.compile(keras.optimizers.SGD(0.0), "mse")
    recording = Diagnose("test:1")
    model.fit(X, np.zeros((96, 3), "float32"), batch_size=4, epochs=1, verbose=0, callbacks=[Nudge(), recording])
    assert recording._in_graph
    values, sites = recording.store.values, recording.store.sites
    row = {(site["phase"], site["tensor"]): i for i, site in enumerate(sites)}
    kernel = model.layers[0].kernel.path
    assert values.shape[0] == 24
    assert np.all(values[:, row["update", kernel], COLUMN["norm"]] == 0.0)
    np.testing.assert_allclose(np.diff(values[:, row["weight", kernel], COLUMN["mean"]]), 1.0, rtol=1e-5)


def test_the_model_is_keras_own_after_the_fit(runs_dir):
    """After a fit with the callback (also one that an exception ended) the model has Keras's train_step and the
    train function it had, so a later fit is exactly Keras's."""
    model, _ = train([], epochs=1)
    keras_function = model.train_function
    train([Diagnose("test:1", sample=(X, Y))], model=model, epochs=1)
    assert "train_step" not in vars(model) and model.train_function is keras_function

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                raise KeyboardInterrupt

    for later in ([Diagnose("test:1")], []):  # the next fit, with or without the callback, gives the model back
        with pytest.raises(KeyboardInterrupt):
            train([Diagnose("test:1"), Interrupt()], model=model, epochs=1)
        assert "train_step" in vars(model)  # Keras calls no callback after an exception
        _, history = train(later, model=model, epochs=1)
        assert "train_step" not in vars(model) and model.train_function is keras_function
        assert len(history["loss"]) == 1


def test_the_per_batch_path_where_the_compiled_one_does_not_run(monkeypatch, runs_dir):
    """Under a step cap (``dnn-instrument fix``) the callback records after each batch, the same rows."""
    per_batch(monkeypatch)
    capped = Diagnose("test:1")
    train([capped], epochs=1)
    assert not capped._in_graph and capped.store.iterations == 24


def test_a_recording_that_cannot_be_compiled_leaves_training_alone(monkeypatch, capsys, runs_dir):
    """Where TensorFlow cannot compile our rows, recording is off with one warning, and training is plain fit's."""
    monkeypatch.delenv("DNN_INSTRUMENT_STRICT", raising=False)  # a failure of ours is a warning, as for users
    monkeypatch.setattr(safety, "_warned", set())

    def not_compilable(rows):
        raise TypeError("cannot be compiled")

    monkeypatch.setattr(callback, "_faulty_in_graph", not_compilable)
    model, history = train([Diagnose("test:1", sample=(X, Y))], epochs=1)
    assert capsys.readouterr().err.count("failed (TypeError: cannot be compiled)") == 1
    plain_model, plain_history = train([], epochs=1)
    assert history == plain_history
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), plain_model.get_weights()))
    assert "train_step" not in vars(model)
