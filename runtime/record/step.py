"""The generated loop's compiled step, kept across the ``fit`` calls of one model as Keras keeps its own.

Keras compiles ``model.train_function`` once (``make_train_function`` in ``keras/src/backend/tensorflow/
trainer.py``) and reuses it in every later ``fit`` until ``compile`` resets it. ``compiled_step(model, step, probe)``
does the same for the loop: the ``tf.function`` pair it returns (the step, compiled with ``model.jit_compile``,
and the function that reads the batch from the iterator inside the compiled graph, both without AutoGraph) is
kept per model (a weak reference: a model that dies takes its step with it) and returned again to a later fit
while the model trains with the same compiled state (``fitting.compiled_state``: a new ``compile``, optimizer,
``run_eagerly``, ``jit_compile`` or strategy builds a new one, as Keras would).

A reused function runs the graph an earlier fit traced; only a new input signature traces it again. What a
trace touches must therefore be the *current* fit's: the kept function calls the step of the fit in progress
(``Compiled.step``, held weakly, so that a finished fit's data is not kept), whose probe records into that fit's
trace store; and what the probes wrote while the graph was traced (the rows' sites, the targets' shapes) is
copied from the store of the fit that ran it before (``TraceStore.inherit_trace``). Each fit thus records under
its own site and store, as when every fit traced its own step.

Under ``run_eagerly`` nothing is compiled and nothing kept: the step runs as Python, in each fit its own.

The compiled step is called as ``fit``'s step is, less one of Grappler's rewrites (``like_fit``). Grappler's memory
optimizer (on by default) estimates a graph's peak memory statically and, when that estimate is high against the
device's memory, rewrites every ``AddN`` of more than two inputs that is live at the peak into a sum accumulated in
a temporary variable (``TemporaryVariable``, an ``AssignAdd`` per input, in the order the inputs arrive), which
rounds differently; in the backward pass of a BatchNormalization such an ``AddN`` sums three gradients. The probed
step keeps more tensors alive than ``fit``'s, so its estimate can cross that line where ``fit``'s does not:
ResNet50 at 32x32 then trained to other last bits than ``fit`` (one of its ``AddN``s was rewritten, none of
``fit``'s). The pass only trades peak memory for a different summation, so the step runs with it off, for its own
calls only: every other function (the user's, Keras's) keeps the options it had, and a ``memory_optimization`` the
user set explicitly is kept. (Where ``fit``'s own step is near enough the device's memory to get the rewrite, the
two would differ the other way; not seen.)
"""

import threading
import weakref

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

from .fitting import compiled_state

_kept = weakref.WeakKeyDictionary()  # model -> Compiled


class Compiled:
    """A model's compiled step: ``next_step(iterator)``, tracing the step of the fit in progress when it traces."""

    def __init__(self, model, state):
        self.state = state  # what the graph was compiled against (``fitting.compiled_state``)
        self.store = None  # the trace store of the last fit that ran it
        self.steps = None  # the step counter its graph reads, if any (the probe's, ``probe.OUTPUTS_EVERY``)
        self._step = None  # weakref to the step of the fit in progress

        def train_step(batch):
            return self._step()(batch)

        # Compiled as Keras compiles its own step: same jit_compile, no AutoGraph; the batch is read from the
        # iterator inside the compiled function, as in Keras.
        train_step = tf.function(train_step, reduce_retracing=True, jit_compile=model.jit_compile, autograph=False)

        def next_step(iterator):
            return train_step(iterator.get_next())

        self.next_step = tf.function(next_step, reduce_retracing=True, autograph=False)

    def start(self, step, probe):
        """Point the kept function at this fit: its ``step`` traces, its probe's store gets what the last trace named,
        and its probe counts its steps on the counter the kept graph reads (``probe.OUTPUTS_EVERY``)."""
        self._step = weakref.ref(step)
        if self.store is not None and self.store is not probe.store:
            probe.store.inherit_trace(self.store)
            probe.count_on(self.steps)
        self.store, self.steps = probe.store, probe.steps


def compiled_step(model, step, probe):
    """``next_step(iterator) -> step(next batch)``, compiled as Keras compiles its train function, and reused by
    a later ``fit`` of ``model`` while its compiled state is the same; under ``run_eagerly``, plain Python."""
    if model.run_eagerly:
        _kept.pop(model, None)
        return lambda iterator: step(iterator.get_next())
    state = compiled_state(model)
    kept = _kept.get(model)
    if kept is None or any(a is not b for a, b in zip(kept.state, state)):
        kept = _kept[model] = Compiled(model, state)
    kept.start(step, probe)
    return like_fit(kept.next_step)


def kept_for(model):
    """The ``Compiled`` step kept for ``model``, or None (for tests and benchmarks)."""
    return _kept.get(model)


_DEFAULT = rewriter_config_pb2.RewriterConfig.DEFAULT_MEM_OPT
_OFF = rewriter_config_pb2.RewriterConfig.NO_MEM_OPT


def like_fit(function):
    """``function`` (the compiled step), called with Grappler's memory optimizer off during its own calls."""
    cache = threading.local()  # per thread, as TensorFlow keeps the call options: (their options, ours)

    def called(*args, **kwargs):
        ctx = context.context()
        theirs = ctx.function_call_options  # what every other function is called with (built once per config)
        if getattr(cache, "theirs", None) is not theirs:
            cache.theirs, cache.ours = theirs, _without_memory_rewrites(theirs)
        ctx.function_call_options = cache.ours
        try:
            return function(*args, **kwargs)
        finally:
            ctx.function_call_options = theirs

    return called


def _without_memory_rewrites(options):
    """A copy of the call ``options`` with the memory optimizer off, unless it was set explicitly."""
    config = config_pb2.ConfigProto()
    config.ParseFromString(options.config_proto_serialized)
    rewrites = config.graph_options.rewrite_options
    if rewrites.memory_optimization != _DEFAULT:
        return options
    rewrites.memory_optimization = _OFF
    return context.FunctionCallOptions(executor_type=options.executor_type, config_proto=config)
