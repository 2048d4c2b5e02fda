"""``Diagnose``: the same recording and analysis as the generated loop, for a ``fit`` the transformer
cannot rewrite (or for users who prefer one line: ``model.fit(..., callbacks=[Diagnose()])``).

A callback sees less than the rewritten loop. It records the ``loss``, ``weight`` and ``update`` sites of every
step: the loss Keras's ``train_step`` reports, the weights after the step and the change it made to them. Layer
outputs and gradients exist only inside Keras's train step; given a ``sample`` of the training data
(``Diagnose(sample=(x, y))``, or automatically for the ``fit`` calls the transformer keeps, from their own
``x``/``y``: ``fallback.py``), the callback computes them itself on that fixed sample, in inference mode (no
dropout, BatchNormalization's moving statistics, no metric or weight changed), so training goes exactly as
without it. The report says which symptoms a trace cannot show (``report.unseen``).

That side pass is a second forward and backward pass; after every step it would cost as much as the step itself
(a batch of 32, a sample of 32). So it runs after each of the first ``SIDE_FIRST`` steps, where most faults are
born, then after every ``SIDE_EVERY``-th (``DNN_INSTRUMENT_SIDE_EVERY``; 1: every step), and at once after a
step whose loss or weights hold a NaN/Inf, so that the layer where it appears is still found; the steps in
between repeat its last rows.

How it records. A callback that overrides ``on_train_batch_end`` makes Keras wait for every step to finish (no
asynchronous dispatch), which alone costs more than the recording. So ``Diagnose`` overrides no batch-end hook:
when training begins it wraps the model's ``train_step`` for this ``fit`` (an instance attribute) and has Keras
compile its train function again. The step runs Keras's own ``train_step``, then computes the rows above and
writes them into a small buffer on the device (``FLUSH_EVERY`` steps). The host reads the buffer and hands its
rows to the trace and the online analysis when it is full (checked as the next batch begins:
``on_train_batch_begin`` costs Keras nothing), at each epoch's end and when training ends. So a NaN/Inf reaches
the analysis (which may stop training) up to ``FLUSH_EVERY`` steps, at most an epoch, after it appears, as in the
generated loop. The rows are taken right after Keras's step, inside it, and an update is the change Keras's step made
(the weights are read as the step begins, as the loop's probe reads them: no copy of them is kept between steps): a
callback of the user's that changes the weights in its ``on_train_batch_end`` shows in the next step's weight rows,
not in its update. When training ends, or the train function raises (Ctrl-C included), the model gets back Keras's
``train_step`` and the train function it had, so that a later ``fit`` is exactly Keras's; after an exception anywhere
else (Keras then calls no callback), the next ``fit`` of the model gives them back as it starts.

Where that cannot run, the callback records after each batch on the host instead (the train function, wrapped,
then reads the loss and the weights: Keras's step is not changed, each batch waits for the device; the same rows):
under a ``tf.distribute`` strategy, with ``run_eagerly``, ``steps_per_execution`` > 1 (one row per execution, as
Keras's logs), and under a step cap (it counts the steps on the host). With a Keras backend other than TensorFlow
it records nothing (and says so).

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
from .record.probe import FLUSH_EVERY, FULL_FIRST, differences, period
from .record.trace import TraceStore
from .safety import failed, guarded
from .vocabulary import COLUMN, STATS, measures_of

SAMPLE_SIZE = 32
SIDE_FIRST = FULL_FIRST  # the first steps of a fit, where most faults are born
SIDE_EVERY = period("DNN_INSTRUMENT_SIDE_EVERY", 4)
_NOT_SET = object()


class Diagnose(keras.callbacks.Callback):
    """Record training statistics and write the dnn-instrument report: ``model.fit(..., callbacks=[Diagnose()])``.

    ``sample``: ``(x, y)`` arrays of training data; up to 32 rows, spread over them, are used to record
    layer outputs and gradients after each step. Without it only the loss, weights and updates are seen.
    """

    def __init__(self, site=None, sample=None):
        super().__init__()
        self.site = site  # None: the user's fit call, found when training starts
        self.sample = sample_of(*sample) if sample is not None else None
        self.store = None
        self._kept = None  # while we train: (the model, its own train_step attribute or _NOT_SET, its train_function)

    def on_train_begin(self, logs=None):
        self._budget = Budget(self.params.get("epochs"))  # the budget holds even if recording fails
        self._in_graph = False
        if keras.backend.backend() != "tensorflow":  # its train function is called otherwise: left alone
            self.disabled = True
            sys.stderr.write(
                f"dnn-instrument: the Diagnose callback needs the TensorFlow backend of Keras, not "
                f"{keras.backend.backend()!r}; it records nothing\n"
            )
            return
        self._record_begin()
        self._install()

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
        self._epoch, self._batch, self._batches, self._side_rows = 0, 0, 0, None
        self._pending = []  # (epoch, batch, statistics) of the batches not yet handed to the store
        why = self._not_in_graph()
        if why is None:
            self._begin_in_graph()
            return
        if why:
            sys.stderr.write(f"dnn-instrument: {why}: the Diagnose callback records after each batch (slower)\n")
        self._before = [tf.Variable(w, trainable=False) for w in self._weights]  # the weights at the last batch
        self._statistics = tf.function(self._after_batch_statistics, autograph=False)  # one compiled call per batch

    def _not_in_graph(self):
        """Why the rows cannot be recorded inside Keras's train function: a message, "" (no need to say), or None."""
        from .record.fitting import strategy_of

        model = self.model
        if self._budget.max_steps:
            return ""  # the step cap counts steps on the host; speed does not matter under dnn-instrument fix
        if model.run_eagerly:
            return ""
        if strategy_of(model) is not None:
            return f"tf.distribute's {type(strategy_of(model)).__name__}"
        if model.steps_per_execution != 1:
            return f"steps_per_execution={model.steps_per_execution}"
        return None

    def _batch_statistics(self, loss, before):
        """One batch's rows of the loss, weights and updates (``before``: the weights before the step)."""
        now = [tf.convert_to_tensor(w) for w in self._weights]
        updates = differences(now, before)
        with_loss = self._sites[0]["phase"] == "loss"  # the per-batch path drops it when the step reports none
        return stats.statistics(([loss] if with_loss else []) + now + updates, measures=measures_of(self._sites))

    def _after_batch_statistics(self, loss):
        """The per-batch path's rows: the weights before the step are those after the last batch, kept in
        ``_before`` (read before they are written: the function orders the ops on each variable as written)."""
        rows = self._batch_statistics(loss, self._before)
        for kept, weight in zip(self._before, self._weights):
            kept.assign(weight)
        return rows

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

    # -- recording inside Keras's train function ----------------------------------------------------

    def _begin_in_graph(self):
        """The device buffer, its counters, and a ``train_step`` that fills them after Keras's own."""
        side_sites = 0
        if self._side is not None:
            self._side.get_concrete_function(*self.sample)  # traced now: its sites give the rows' count
            side_sites = len(self._side_store.sites)
        self._loss_row, self._has_loss = side_sites, None  # whether the step reports a loss: seen when traced
        self._buffer = tf.Variable(tf.zeros([FLUSH_EVERY, side_sites + len(self._sites), len(STATS)]), trainable=False)
        self._steps = tf.Variable(0, dtype=tf.int64, trainable=False)  # steps of this fit: step n's rows are at n - 1
        self._unread, self._read = 0, 0  # host side: steps begun since the buffer was read; steps read this epoch
        self._taken, self._last = 0, None  # host side: steps read this fit; the last step's rows, filled in
        # traced here, on its own: a failure (recording is then off) leaves Keras's train function untouched (one
        # while Keras traces it would leave Keras's metrics half built); the train function then calls this trace
        self._record = tf.function(self._record_rows, autograph=False)
        weights = [tf.TensorSpec(w.shape, w.dtype) for w in self._weights]
        self._record.get_concrete_function(tf.TensorSpec([], tf.float32), weights)
        self._in_graph = True

    def _recording_step(self, train_step):
        def step(data):
            before = [tf.convert_to_tensor(w) for w in self._weights]  # read before Keras's step changes them
            logs = train_step(data)
            self._has_loss = isinstance(logs, dict) and "loss" in logs  # (a GAN's reports d_loss and g_loss)
            with tf.control_dependencies([t for t in tf.nest.flatten(logs) if tf.is_tensor(t)]):
                self._record(tf.cast(logs["loss"], tf.float32) if self._has_loss else tf.constant(0.0), before)
            return logs

        return step

    def _record_rows(self, loss, before):
        """Inside the train function, after Keras's step: this step's rows, into the buffer (``before``: the weights
        before the step). A step without the side pass gives its sites ``UNMEASURED`` rows, which the host replaces
        with the last side pass's (``stats.fill_unmeasured``)."""
        rows = self._batch_statistics(loss, before)
        steps = self._steps.assign_add(1)
        if self._side is not None:
            run = (steps <= SIDE_FIRST) | (steps % SIDE_EVERY == 0) | _faulty_in_graph(rows)
            unmeasured = tf.fill([self._loss_row, len(STATS)], stats.UNMEASURED)  # the side sites come first
            side = stats.functional_cond(run, lambda: self._side(*self.sample), lambda: unmeasured)
            rows = tf.concat([side, rows], 0)
        self._buffer.scatter_nd_update([[(steps - 1) % FLUSH_EVERY]], rows[None])  # the host reads it before it wraps

    def _read_buffer(self):
        """Hand the buffer's rows to the store and the online analysis, in the per-batch path's order."""
        steps = int(self._steps.numpy())
        count, self._unread = steps - self._taken, 0
        if not count:
            return
        block = self._buffer.numpy()[np.arange(self._taken, steps) % FLUSH_EVERY]
        self._taken = steps
        if self._side is not None:
            self._last = stats.fill_unmeasured(block, self._last)
        if not self._has_loss:
            block = np.delete(block, self._loss_row, axis=1)
        self._hand([self._epoch] * count, list(range(self._read, self._read + count)), block)
        self._read += count

    # -- the train function of this fit --------------------------------------------------------------

    def _install(self):
        """Wrap the model's train function for this fit (see the module's docstring); ``give_model_back`` undoes it."""
        model = self.model
        stale = getattr(model.train_function, "diagnose", None)  # a fit of ours that ended without on_train_end
        if stale is not None:
            stale.give_model_back()
        model.make_train_function()  # Keras's (fit has made it already)
        self._kept = (model, model.__dict__.get("train_step", _NOT_SET), model.train_function)
        function = model.train_function
        if self._in_graph and not getattr(self, "disabled", False):
            try:
                model.train_step = self._recording_step(model.train_step)
                model.make_train_function(force=True)
                function = model.train_function
            except Exception as error:
                self.give_model_back()
                failed("the Diagnose callback", error, "recording is off for the rest of this fit")
                self.disabled = True
                return self._install()
        history = getattr(model, "history", None)

        def train_function(iterator):
            if getattr(model, "history", None) is not history:  # a later fit: this one ended by an exception
                self.give_model_back()
                model.make_train_function()
                return model.train_function(iterator)
            try:
                logs = function(iterator)
            except (StopIteration, tf.errors.OutOfRangeError):  # the end of a dataset of unknown length
                raise
            except BaseException:  # Ctrl-C and SystemExit too: Keras calls no callback after them
                self._abandon()
                raise
            if not self._in_graph:
                self._after_batch(logs)
            return logs

        train_function.diagnose = self
        model.train_function = train_function

    def _abandon(self):
        """The train function raised: keep what was recorded, give the model back."""
        try:
            self._flush()
        finally:
            self.give_model_back()

    def give_model_back(self):
        """Give the model back Keras's ``train_step`` and the train function it had before this fit."""
        if self._kept is None:
            return
        (model, step, function), self._kept = self._kept, None
        if step is _NOT_SET:
            model.__dict__.pop("train_step", None)
        else:
            model.train_step = step
        model.train_function = function

    # -- the host's hooks ------------------------------------------------------------------------------

    @guarded("the Diagnose callback")
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._read = epoch, 0

    def on_train_batch_begin(self, batch, logs=None):
        self._batch = batch + self.model.steps_per_execution - 1  # the batch Keras's on_train_batch_end names
        if self._in_graph:
            try:
                self._next_step()
            except BaseException:  # Ctrl-C, seen by raise_pending_stop: Keras calls no callback after it
                self._abandon()
                raise

    @guarded("the Diagnose callback")
    def _next_step(self):
        session.raise_pending_stop()
        if self._unread >= FLUSH_EVERY:  # the buffer is full: one wait for the device per FLUSH_EVERY steps
            self._read_buffer()
        self._unread += 1

    def _after_batch(self, logs):
        self._record_batch(self._batch, logs)
        self._budget.after_step(self.model)

    @guarded("the Diagnose callback")
    def _record_batch(self, batch, logs=None):
        session.raise_pending_stop()
        logs = logs if isinstance(logs, dict) else {}
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

    @guarded("the Diagnose callback")
    def _flush(self):
        """Hand the recorded steps to the store and the online analysis, as the loop's probe does (``FLUSH_EVERY``)."""
        if self._in_graph:
            self._read_buffer()
        elif self._pending:
            epochs, batches, matrices = zip(*self._pending)
            self._pending = []
            self._hand(epochs, batches, np.stack(matrices))

    def _hand(self, epochs, batches, block):
        if not self.store.sites:
            loss = self._has_loss is not False if self._in_graph else True
            sites = [site for site in self._sites if loss or site["phase"] != "loss"]
            self.store.set_sites((self._side_store.sites if self._side is not None else []) + sites)
        self.store.append(epochs, batches, block)
        self.monitor.after(block)

    def on_epoch_end(self, epoch, logs=None):
        self._record_epoch(epoch, logs)
        self._budget.after_epoch(self.model, epoch)

    @guarded("the Diagnose callback")
    def _record_epoch(self, epoch, logs=None):
        self._flush()
        self.store.add_epoch(epoch, logs or {})

    def on_train_end(self, logs=None):
        try:
            self._record_end()
        finally:
            self.give_model_back()

    @guarded("the Diagnose callback")
    def _record_end(self):
        self._flush()
        self.store.close()


def _faulty(rows):
    return bool(((rows[:, COLUMN["frac_nan"]] > 0) | (rows[:, COLUMN["frac_inf"]] > 0)).any())


def _faulty_in_graph(rows):
    return tf.reduce_any((rows[:, COLUMN["frac_nan"]] > 0) | (rows[:, COLUMN["frac_inf"]] > 0))


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
