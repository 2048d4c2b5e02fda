"""How the generated step's calls are compiled: as ``fit``'s step is, less Grappler's memory-pressure rewrite.

Grappler's memory optimizer (on by default) estimates a graph's peak memory statically and, when that estimate
is high against the device's memory (its scheduling pass, ``memory_optimizer.cc``), rewrites the ``AddN``s of
more than two inputs that are live at the peak into a sum accumulated in a temporary variable
(``TemporaryVariable``, ``AssignAdd`` per input, in the order the inputs arrive), which rounds differently. In the
backward pass of a BatchNormalization such an ``AddN`` sums three gradients. The probed step keeps more tensors
alive than ``fit``'s, so its estimate can cross the line where ``fit``'s does not: ResNet50 at 32x32 then trained
to other last bits than ``fit`` (one of its ``AddN``s was rewritten; none of ``fit``'s). The pass only trades
peak memory for a different summation, so the step runs with it off, for its own calls only: every other function
(the user's, Keras's) keeps the options it had. An explicit ``memory_optimization`` the user set is kept. (Where
``fit``'s own step is near enough the device's memory to get the rewrite, the two would differ the other way.)
"""

import threading

from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
from tensorflow.python.eager import context

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
