"""``Diagnose``: the same recording and analysis as the generated loop, for a ``fit`` the transformer
cannot rewrite (or for users who prefer one line: ``model.fit(..., callbacks=[Diagnose()])``).

A callback sees less than the rewritten loop. After each batch it reads the loss and the weights, so it
records the ``loss``, ``weight`` and ``update`` sites of every step. Layer outputs and gradients exist only
inside Keras's train step; given a ``sample`` of the training data (``Diagnose(sample=(x, y))``, or
automatically for the ``fit`` calls the transformer keeps, from their own ``x``/``y``: ``fallback.py``), the
callback computes them itself on that fixed sample, in inference mode (no dropout, BatchNormalization's moving
statistics, no metric or weight changed), so training goes exactly as without it. The report says which symptoms
a trace cannot show (``report.unseen``).

That side pass is a second forward and backward pass; after every batch it would cost as much as the step itself
(a batch of 32, a sample of 32). So it runs after each of the first ``SIDE_FIRST`` batches, where most faults are
born, then after every ``SIDE_EVERY``-th (``DNN_INSTRUMENT_SIDE_EVERY``; 1: every batch), and at once after a
batch whose loss or weights hold a NaN/Inf, so that the layer where it appears is still found; the batches in
between repeat its last rows. The loss, weights and updates are recorded after every batch.

The budget of ``dnn-instrument fix`` (``DNN_INSTRUMENT_MAX_EPOCHS`` / ``_MAX_STEPS``, as the generated loop
honours it) holds here too: the callback sets ``model.stop_training`` at the cap and says so. A callback
cannot end an epoch early without ending ``fit``, so the step cap holds for the whole fit: it stops after
(epochs it may run) x (steps per epoch) steps.
"""

import os
import sys
import sysconfig

import keras
import numpy as np
import tensorflow as tf

from . import session
from .analysis.online import Monitor
from .record import stats
from .record.probe import FLUSH_EVERY, FULL_FIRST, period
from .record.trace import TraceStore
from .safety import guarded
from .vocabulary import COLUMN

SAMPLE_SIZE = 32
SIDE_FIRST = FULL_FIRST  # the first steps of a fit, where most faults are born
SIDE_EVERY = period("DNN_INSTRUMENT_SIDE_EVERY", 4)


class Diagnose(keras.callbacks.Callback):
    """Record training statistics and write the dnn-instrument report: ``model.fit(..., callbacks=[Diagnose()])``.

    ``sample``: ``(x, y)`` arrays of training data; up to 32 rows, spread over them, are used to record
    layer outputs and gradients after each batch. Without it only the loss, weights and updates are seen.
    """

    def __init__(self, site=None, sample=None):
        super().__init__()
        self.site = site  # None: the user's fit call, found when training starts
        self.sample = sample_of(*sample) if sample is not None else None
        self.store = None

    def on_train_begin(self, logs=None):
        self._budget = Budget(self.params.get("epochs"))  # the budget holds even if recording fails
        self._record_begin()

    @guarded("the Diagnose callback")
    def _record_begin(self):
        self.site = self.site or fit_call_site()
        self.store = session.open_store(self.model, self.site)
        self.store.mechanism = "callback"
        self.monitor = Monitor(self.model, self.store)
        self._weights = list(self.model.trainable_weights)
        owners = {id(w): (i, layer.name) for i, layer in enumerate(self.model.layers) for w in layer.trainable_weights}
        self._sites = [{"phase": "loss", "layer_index": None, "layer": "", "tensor": "loss"}]
        for phase in ("weight", "update"):
            for w in self._weights:
                index, layer = owners.get(id(w), (None, ""))
                self._sites.append({"phase": phase, "layer_index": index, "layer": layer, "tensor": w.path})
        self._side = self._side_step() if self.sample is not None else None
        self._before = [tf.Variable(w, trainable=False) for w in self._weights]  # the weights at the last batch
        self._statistics = tf.function(self._batch_statistics, autograph=False)  # one compiled call per batch
        self._epoch, self._batches, self._side_rows = 0, 0, None
        self._pending = []  # (epoch, batch, statistics) of the batches not yet handed to the store

    def _batch_statistics(self, loss):
        """One batch's rows of the loss, weights and updates."""
        now = [tf.convert_to_tensor(w) for w in self._weights]
        updates = [n - b for n, b in zip(now, self._before)]
        with tf.control_dependencies(updates):
            for before, weight in zip(self._before, now):
                before.assign(weight)
        return stats.statistics(([loss] if self._sites[0]["phase"] == "loss" else []) + now + updates)

    def _side_step(self):
        """A compiled forward and backward pass over the sample that records what the loop's probes record."""
        from .record.graph import LayerGraph
        from .record.probe import Probe
        from .record.support import loop_supports_quietly

        if not loop_supports_quietly(self.model):
            sys.stderr.write(
                "dnn-instrument: Diagnose cannot walk this model's layers; recording loss and weights only\n"
            )
            return None
        model, graph = self.model, LayerGraph(self.model)
        probe = Probe(model, self.site, store=TraceStore(site=self.site), outputs_every=1)  # its own schedule

        def side(x, y):
            probe.data(x, y)
            with tf.GradientTape() as tape:
                with graph.calling(training=False):
                    tensors = graph.feed(x)
                    for node in graph.nodes:
                        probe.forward(node, node.call(tensors, training=False))
                    y_pred = graph.result(tensors)
                kept = [tf.identity(v) for v in model.metrics_variables]  # compute_loss may update loss trackers
                loss = model.compute_loss(x, y, y_pred, training=False)
                for variable, value in zip(model.metrics_variables, kept):
                    variable.assign(value)
                scaled_loss = model.optimizer.scale_loss(loss)  # as in training: the probe divides it out
            weights = model.trainable_weights
            gradients, output_gradients = tape.gradient(scaled_loss, (weights, probe.outputs))
            probe.backward(output_gradients)
            probe.gradients(weights, gradients)
            return probe.statistics()

        self._side_store = probe.store
        return tf.function(side, autograph=False)

    @guarded("the Diagnose callback")
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._record_batch(batch, logs)
        self._budget.after_step(self.model)

    @guarded("the Diagnose callback")
    def _record_batch(self, batch, logs=None):
        session.raise_pending_stop()
        logs = logs or {}
        if not self.store.sites and "loss" not in logs:
            # a train_step of the model's own that reports no "loss" (a GAN's d_loss and g_loss, a Distiller's
            # student_loss): no loss is recorded, rather than a NaN that would read as a fault
            self._sites = [site for site in self._sites if site["phase"] != "loss"]
        statistics = self._statistics(tf.constant(float(logs.get("loss", float("nan"))), tf.float32)).numpy()
        faulty = _faulty(statistics)
        if self._side is not None:
            self._batches += 1
            if self._side_rows is None or self._batches <= SIDE_FIRST or self._batches % SIDE_EVERY == 0 or faulty:
                self._side_rows = self._side(*self.sample).numpy()
                faulty = faulty or _faulty(self._side_rows)
            statistics = np.concatenate([self._side_rows, statistics])
        self._pending.append((self._epoch, batch, statistics))
        if len(self._pending) >= FLUSH_EVERY or faulty:  # a NaN/Inf reaches the analysis at once
            self._flush()

    def _flush(self):
        """Hand the pending batches to the store and the online analysis, as the loop's probe does (``FLUSH_EVERY``)."""
        if not self._pending:
            return
        if not self.store.sites:
            self.store.set_sites((self._side_store.sites if self._side is not None else []) + self._sites)
        epochs, batches, matrices = zip(*self._pending)
        self._pending = []
        block = np.stack(matrices)
        self.store.append(epochs, batches, block)
        self.monitor.after(block)

    def on_epoch_end(self, epoch, logs=None):
        self._record_epoch(epoch, logs)
        self._budget.after_epoch(self.model, epoch)

    @guarded("the Diagnose callback")
    def _record_epoch(self, epoch, logs=None):
        self._flush()
        self.store.add_epoch(epoch, logs or {})

    @guarded("the Diagnose callback")
    def on_train_end(self, logs=None):
        self._flush()
        self.store.close()


def _faulty(rows):
    return bool(((rows[:, COLUMN["frac_nan"]] > 0) | (rows[:, COLUMN["frac_inf"]] > 0)).any())


class Budget:
    """The epoch/step cap of the environment on a ``fit`` the callback watches: ``model.stop_training`` at the cap."""

    def __init__(self, epochs):
        from .record.fitting import budget

        self.max_epochs, self.max_steps = budget("DNN_INSTRUMENT_MAX_EPOCHS"), budget("DNN_INSTRUMENT_MAX_STEPS")
        runs = min(filter(None, (epochs, self.max_epochs)), default=None)
        self.max_total_steps = self.max_steps * (runs or 1) if self.max_steps else None
        self.steps, self.said = 0, False

    def after_step(self, model):
        self.steps += 1
        if self.max_total_steps and self.steps >= self.max_total_steps:
            self._stop(
                model,
                f"{self.steps} steps (DNN_INSTRUMENT_MAX_STEPS={self.max_steps} per epoch, for the whole fit on the callback path)",
            )

    def after_epoch(self, model, epoch):
        if self.max_epochs and epoch + 1 >= self.max_epochs:
            self._stop(model, f"{epoch + 1} epoch(s) (DNN_INSTRUMENT_MAX_EPOCHS={self.max_epochs})")

    def _stop(self, model, reached):
        model.stop_training = True
        if not self.said:
            self.said = True
            sys.stderr.write(f"dnn-instrument: budget reached: training stopped after {reached}\n")


def fit_call_site():
    """Where the user called ``fit`` (``train.py:25``; a notebook cell's line), from the stack: the innermost frame
    of code that is not Keras's, TensorFlow's, ours or Python's own."""
    from . import origins

    libraries = tuple(
        os.path.dirname(os.path.abspath(path)) + os.sep
        for path in (keras.__file__, tf.__file__, __file__, os.path.dirname(os.path.abspath(__file__)))
    ) + (os.path.abspath(sysconfig.get_paths()["stdlib"]) + os.sep,)
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen") and not os.path.abspath(filename).startswith(libraries):
            return origins.location_of(frame) or f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return "fit"


def sample_of(x, y, size=SAMPLE_SIZE):
    """``size`` rows of array data spread evenly over it (so that they mix the classes), or None for data
    that cannot be indexed without consuming it (a dataset, a generator)."""

    def rows(data, picked):
        if data is None:
            return None
        flat = tf.nest.flatten(data)
        if not all(isinstance(t, (np.ndarray, tf.Tensor)) or hasattr(t, "__array__") for t in flat):
            raise TypeError
        return tf.nest.pack_sequence_as(data, [tf.convert_to_tensor(np.asarray(t)[picked]) for t in flat])

    try:
        length = len(tf.nest.flatten(x)[0])
        picked = np.unique(np.linspace(0, length - 1, min(size, length)).astype(int))
        return rows(x, picked), rows(y, picked)
    except (TypeError, IndexError, ValueError):
        return None
