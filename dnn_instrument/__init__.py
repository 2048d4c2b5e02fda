"""dnn-instrument: find why a Keras model does not train.

``dnn_instrument.transformer`` rewrites ``model.fit`` into an explicit, probed training loop;
``dnn_instrument.runtime`` is what the rewritten script imports. ``Diagnose`` is the one-line
callback alternative: ``model.fit(..., callbacks=[dnn_instrument.Diagnose()])``.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "Diagnose":
        from .runtime import Diagnose

        return Diagnose
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
