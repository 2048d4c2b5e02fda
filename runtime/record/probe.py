"""Probes: what the generated train step calls to record each layer's forward output, backward
gradient, weight gradients, weights and updates, and the loss.

Inside the compiled step the probe only *collects* tensors while the step is traced; ``statistics()``
then reduces all of them to one ``[sites, STATS]`` matrix (``stats.statistics``: a few reductions per layer
output or gradient, and per distinct shape of the small tensors), which the step returns next to its logs. On the host, ``record`` keeps those
matrices as they come and hands them to the trace store in blocks of ``FLUSH_EVERY`` steps, so there
is no per-tensor, per-step transfer to Python.

A *site* is one row of that matrix: ``(phase, layer index, layer name, tensor)``. Phases:
``forward`` (a layer's output), ``backward`` (the gradient of the loss with respect to that output),
``gradient`` (a weight's gradient), ``weight`` (a weight after the update), ``update`` (the change the
optimizer made to it), ``loss``, and the batch itself: ``input`` (x) and ``target`` (y).

Under a ``tf.distribute`` strategy every replica traces the step (MirroredStrategy: each in its own thread),
so what a trace collects is kept per thread; ``distributed.py`` reduces the replicas' matrices into one, and
hands ``record`` each replica's first faulty site with it, which names the replica where a NaN/Inf appeared.
"""

import os
import sys
import threading
import time

import tensorflow as tf

from .. import costs
from ..safety import guarded
from ..vocabulary import measures_of
from . import stats
from .facts import note_targets


def period(variable, default):
    """A positive whole number of steps from the environment variable ``variable``, else ``default`` (with a message
    when it is set to something else: a typo must not stop the user's training)."""
    raw = os.environ.get(variable, "").strip()
    if raw:
        try:
            if int(raw) > 0:
                return int(raw)
        except ValueError:
            pass
        sys.stderr.write(
            f"dnn-instrument: {variable}={raw!r} is not a whole number of steps above 0; using {default}\n"
        )
    return default


FLUSH_EVERY = period("DNN_INSTRUMENT_FLUSH_EVERY", 32)

#: Off by default (1): with k > 1, the layer outputs and the gradients reaching them get their full statistics in the
#: first ``FULL_FIRST`` steps of a ``fit`` and then in every k-th; in the other steps each is only checked for NaN/Inf
#: (one sum), and repeats its last full row. README, "What is recorded", says what it saves and what it hides.
OUTPUTS_EVERY = period("DNN_INSTRUMENT_OUTPUTS_EVERY", 1)
FULL_FIRST = 16


class _Traced:
    """An attribute of the trace in progress, kept per thread (each replica traces the step in its own)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, probe, owner=None):
        if probe is None:
            return self
        if not hasattr(probe._traced, self.name):
            probe._begin_trace()
        return getattr(probe._traced, self.name)

    def __set__(self, probe, value):
        setattr(probe._traced, self.name, value)


class Probe:
    _loss_scale, _full = _Traced(), _Traced()
    _sites, _tensors, _saturation = _Traced(), _Traced(), _Traced()
    outputs, _output_sites = _Traced(), _Traced()

    def __init__(self, model, site, store, monitor=None, outputs_every=None):
        from .distributed import describe

        self._traced = threading.local()
        self.model = model
        self.site = site  # "train.py:31": the fit call this loop stands for
        self.store = store
        self.monitor = monitor  # the online analysis, given by the run (``runtime.loop``): see ``flush``
        self._owner = _weight_owners(model)
        self._pending = []  # host side: statistics of steps not yet flushed, with their (epoch, step)
        self._faults = []  # host side, under a strategy: each pending step's first faulty site per replica
        self.store.distribution = describe(model)
        # outputs measured in full every k-th step only (``OUTPUTS_EVERY``): not under a strategy, whose replicas'
        # rows are merged in the graph
        every = OUTPUTS_EVERY if outputs_every is None else outputs_every
        if every > 1 and self.store.distribution is not None:
            sys.stderr.write(
                "dnn-instrument: DNN_INSTRUMENT_OUTPUTS_EVERY does not apply under a tf.distribute strategy: "
                "every step is measured in full\n"
            )
        self._every = every if self.store.distribution is None else 1
        self.steps = tf.Variable(0, dtype=tf.int64, trainable=False) if self._every > 1 else None
        self._last = None  # host side: the last full row of each site (``stats.fill_unmeasured``)
        self._begin_trace()
        self._since = time.perf_counter()  # host side: the end of the last step (costs.py), ...
        self._aside = 0.0  # ... and the seconds since then that flushing took (counted apart)
        self._stepped = False

    def count_on(self, steps):
        """Count this fit's steps from 0 on ``steps``: the counter of the probe whose trace a kept compiled step
        runs (``step.py``), since the graph reads that one."""
        if steps is not None and self.steps is not None:
            self.steps = steps
            steps.assign(0)

    # -- inside the compiled step (these run while TensorFlow traces it) --------------------------

    def _begin_trace(self):
        self._loss_scale = self._full = None
        self._sites, self._tensors, self._saturation = [], [], []
        self.outputs, self._output_sites = [], []

    def _add(self, phase, layer_index, layer_name, tensor_name, tensors, saturation=None, numeric=False):
        """Add a site; returns its row number, or None when there is no tensor to record.

        Only floating-point tensors are recorded, or any numeric one with ``numeric`` (integer labels).
        """
        keep = _is_numeric if numeric else _is_float
        tensors = [_dense(t) for t in tf.nest.flatten(tensors) if t is not None and keep(t)]
        if not tensors:
            return None
        if len(tensors) == 1:
            flat = tensors[0]
        else:  # several tensors (a layer's outputs, a model's inputs), possibly of several dtypes
            flat = tf.concat([tf.reshape(tf.cast(t, tf.float32), [-1]) for t in tensors], 0)
        self._sites.append({"phase": phase, "layer_index": layer_index, "layer": layer_name, "tensor": tensor_name})
        self._tensors.append(flat)
        self._saturation.append(saturation)
        return len(self._sites) - 1

    @guarded("a dnn-instrument probe")
    def data(self, x, y):
        """Record the batch the step trains on: its inputs and its targets."""
        note_targets(self.store.facts, self.model, y)
        if self.steps is not None:  # whether this step measures the outputs in full (``OUTPUTS_EVERY``)
            step = self.steps.assign_add(1) - 1
            self._full = (step < FULL_FIRST) | (step % self._every == 0)
        self._add("input", None, "", "x", x, numeric=True)
        self._add("target", None, "", "y", y, numeric=True)

    @guarded("a dnn-instrument probe")
    def forward(self, node, output):
        """Record the output of one layer call; its gradient is recorded by ``backward``."""
        observed = tf.nest.map_structure(_unfolded_copy, output)
        if self._add("forward", node.index, node.name, "output", observed, _saturation_of(node.layer)) is not None:
            self.outputs.append([t for t in tf.nest.flatten(output) if _is_float(t)])
            self._output_sites.append(node)

    @guarded("a dnn-instrument probe")
    def backward(self, output_gradients):
        """Record d(loss)/d(output) for each output recorded by ``forward``, in the same order.

        Called before the optimizer step: it also notes the loss scale the gradients carry (mixed precision).
        """
        self._loss_scale = _loss_scale(self.model.optimizer)
        for node, gradients in zip(self._output_sites, output_gradients):
            self._add("backward", node.index, node.name, "output", _unscaled(gradients, self._loss_scale))

    @guarded("a dnn-instrument probe", default=list)
    def snapshot(self, weights):
        """The weights' values before the optimizer changes them: what the forward pass read of each, where it can be
        found (``read_so_far``), else a read of its own."""
        read = read_so_far()
        return [value if value is not None else tf.identity(w) for w, value in zip(weights, map(read, weights))]

    @guarded("a dnn-instrument probe")
    def update(self, weights, gradients, before):
        """Record each weight's gradient, its new value and the change the optimizer made."""
        changed = list(zip(weights, gradients, before))
        after = [tf.convert_to_tensor(weight) for weight, _, _ in changed]  # each weight read once
        changes = differences(after, [old for _, _, old in changed])
        for (weight, gradient, _), new, change in zip(changed, after, changes):
            index, layer = self._owner.get(id(weight), (None, ""))
            self._add("gradient", index, layer, weight.path, _unscaled(gradient, self._loss_scale))
            self._add("weight", index, layer, weight.path, new)
            self._add("update", index, layer, weight.path, change)

    @guarded("a dnn-instrument probe")
    def gradients(self, weights, gradients):
        """Record each weight's gradient only (a side computation that changes no weight)."""
        for weight, gradient in zip(weights, gradients):
            index, layer = self._owner.get(id(weight), (None, ""))
            self._add("gradient", index, layer, weight.path, _unscaled(gradient, self._loss_scale))

    @guarded("a dnn-instrument probe")
    def loss(self, loss):
        self._add("loss", None, "", "loss", loss)

    @guarded("a dnn-instrument probe", default=lambda: tf.zeros([0, len(stats.STATS)]))
    def statistics(self):
        """All of this step's records as one ``[sites, len(STATS)]`` tensor; starts the next trace."""
        activations = [site["phase"] in ("forward", "backward") for site in self._sites]
        measures = measures_of(self._sites)
        matrix = stats.statistics(self._tensors, self._saturation, activations, self._full, measures)
        self.store.set_sites(self._sites)
        self._begin_trace()
        return matrix

    # -- on the host ---------------------------------------------------------------------------------

    @guarded("a dnn-instrument probe")
    def record(self, epoch, step, statistics):
        """Keep one step's statistics; they reach the trace store every ``FLUSH_EVERY`` steps."""
        now = time.perf_counter()
        costs.add("steps" if self._stepped else "first step", now - self._since - self._aside)
        self._since, self._aside, self._stepped = now, 0.0, True
        if isinstance(statistics, tuple):  # under a strategy: (matrix, first faulty site per replica)
            statistics, faults = statistics
            self._faults.append(faults)
        self._pending.append((epoch, step, statistics))
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    @guarded("a dnn-instrument probe")
    def flush(self):
        if self._pending:
            start = time.perf_counter()
            with costs.measure("transfer and journal"):
                epochs, steps, matrices = zip(*self._pending)
                block = tf.stack(matrices).numpy()
                if self._every > 1:
                    self._last = stats.fill_unmeasured(block, self._last)
                self._note_fault_replica(block)
                self.store.append(epochs, steps, block)
                self._pending = []
            if self.monitor is not None:
                # The one place where data flows back up: the online analysis reads the new rows and may stop
                # training (``model.stop_training``), e.g. at the first NaN/Inf (``analysis/online.py``).
                with costs.measure("online analysis"):
                    self.monitor.after(block)
            self._aside += time.perf_counter() - start

    def _note_fault_replica(self, block):
        """Name, in the store's ``distribution``, the replica(s) that saw the first NaN/Inf of the run."""
        from .fitting import replica_in_cluster

        faults, self._faults = self._faults, []
        distribution = self.store.distribution
        if not faults or distribution is None or "fault_replica" in distribution:
            return
        sites = block.shape[1]
        for first_sites in tf.stack(faults).numpy():
            if first_sites.min() < sites:
                # this worker's replicas, counted across the cluster (worker 1's first is not replica 0)
                distribution["fault_replica"] = replica_in_cluster(self.model, first_sites.argmin())
                distribution["fault_replicas"] = [
                    replica_in_cluster(self.model, r) for r in (first_sites < sites).nonzero()[0]
                ]
                distribution["fault_site"] = dict(self.store.sites[int(first_sites.min())])
                return

    @guarded("a dnn-instrument probe")
    def epoch_end(self, epoch, logs):
        self.flush()
        self.store.add_epoch(epoch, logs)

    def close(self):
        """The end of this ``fit``: flush, and write the trace and the report (even after a failure)."""
        self.flush()
        self.store.close()


def _loss_scale(optimizer):
    """The factor a ``LossScaleOptimizer`` multiplied the loss by in this step (None for any other optimizer)."""
    import keras

    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return None
    return tf.identity(optimizer.scale_loss(tf.constant(1.0)))


def _unscaled(gradients, scale):
    """Gradients of the scaled loss divided by the scale, in float32: those of the loss itself."""
    if scale is None:
        return gradients
    return tf.nest.map_structure(
        lambda g: None if g is None else tf.cast(_dense(g), tf.float32) / scale if _is_float(g) else g, gradients
    )


#: Elementwise sums Grappler's arithmetic optimizer folds into the sum that consumes them, when it is their only
#: consumer: ``a + (b + c)`` becomes ``AddN(a, b, c)``, which rounds differently. A BatchNormalization's output is
#: such a sum (``x * inv + (beta - mean * inv)``), and a residual ``Add`` consumes it (MobileNetV2, ResNet).
_FOLDED_SUMS = {"AddV2": "Add", "Add": "AddV2"}


def _unfolded_copy(tensor, depth=0):
    """What a probe reads instead of a sum Grappler may fold: an equal copy, so that the training graph keeps its
    consumers and Grappler rewrites it exactly as it rewrites ``fit``'s (reading the sum itself would be one more
    consumer, which forbids the fold: the weights would then differ from ``fit``'s in their last bits).

    The copy is built with the other one of TensorFlow's two add ops, so that Grappler does not merge it back into the
    original as a duplicate, and its inner sums are copied too, for the same reason. Anything else is read as it is.
    """
    if not isinstance(tensor, tf.Tensor) or tf.executing_eagerly() or depth > 16:
        return tensor
    if tensor.op.type not in _FOLDED_SUMS:
        return tensor
    left, right = (_unfolded_copy(t, depth + 1) for t in tensor.op.inputs)
    return getattr(tf.raw_ops, _FOLDED_SUMS[tensor.op.type])(x=left, y=right)


def read_so_far():
    """In the step being traced, ``weight -> tensor or None``: the value of ``weight`` that the step has read so far
    (a ``ReadVariableOp`` of it), when every op of the step that takes the weight so far only reads it, so that the
    weight still holds that value; else None (no such read, a write, a call of a nested function that takes it, a
    handle the step did not capture itself, or eager execution). The forward pass reads every weight it uses: reading
    each again for ``snapshot`` adds an op per weight to the step (162 in a stack of 80 Dense layers)."""
    graph = tf.compat.v1.get_default_graph()
    if tf.executing_eagerly() or not hasattr(graph, "captures"):
        return lambda weight: None
    placeholders = {id(external): internal for external, internal in graph.captures}

    def read(weight):
        try:
            placeholder = placeholders.get(id(weight.handle))
        except (AttributeError, ValueError, TypeError):
            return None
        takers = placeholder.consumers() if placeholder is not None else []
        if not takers or any(op.type != "ReadVariableOp" for op in takers):
            return None
        value = takers[0].outputs[0]  # nothing wrote the weight: every read of it has the same value
        return value if value.dtype == weight.dtype and value.shape == weight.shape else None

    return read


def differences(after, before):
    """``after[i] - before[i]`` for each weight, computed for the small weights of one shape at once (stacked: one
    subtraction per shape instead of one per weight; each value is the same difference): a stack of 80 Dense layers
    changes 162 weights in each step, and each op of a step costs as much as its arithmetic there."""
    differences = [None] * len(after)
    shapes = {}
    for i, (new, old) in enumerate(zip(after, before)):
        if stats.stackable(new):
            shapes.setdefault((tuple(new.shape), new.dtype, old.dtype), []).append(i)
        else:
            differences[i] = new - old
    for members in shapes.values():
        if len(members) == 1:
            differences[members[0]] = after[members[0]] - before[members[0]]
            continue
        stacked = tf.stack([after[i] for i in members]) - tf.stack([before[i] for i in members])
        for i, difference in zip(members, tf.unstack(stacked)):
            differences[i] = difference
    return differences


def _dense(tensor):
    """A tf.Tensor for a Keras variable, or for an embedding's IndexedSlices gradient (its dense value)."""
    return tf.convert_to_tensor(tensor)


def _is_float(tensor):
    return hasattr(tensor, "dtype") and tf.as_dtype(tensor.dtype).is_floating


def _is_numeric(tensor):
    if not hasattr(tensor, "dtype"):
        return False
    dtype = tf.as_dtype(tensor.dtype)
    return dtype.is_floating or dtype.is_integer or dtype == tf.bool


def _weight_owners(model):
    """``id(weight) -> (index in model.layers, layer name)`` for every trainable weight."""
    owners = {}
    for index, layer in enumerate(model.layers):
        for weight in layer.trainable_weights:
            owners.setdefault(id(weight), (index, layer.name))
    return owners


def _saturation_of(layer):
    """The saturated range of a layer's output, from its activation (Dense, Conv, Activation, Softmax...)."""
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) or type(layer).__name__.lower()
    return stats.SATURATION.get(name, stats.NO_SATURATION)
