"""dnn-instrument: find why a Keras model does not train.

``dnn_instrument.transformer`` rewrites ``model.fit`` into an explicit, probed training loop;
``dnn_instrument.runtime`` is what the rewritten script imports. ``Diagnose`` is the one-line
callback alternative: ``model.fit(..., callbacks=[dnn_instrument.Diagnose()])``. In IPython or Jupyter,
``%load_ext dnn_instrument`` diagnoses the ``fit`` calls of cells as they run (``ipython.py``).
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "Diagnose":
        from .runtime import Diagnose

        return Diagnose
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(shell):
    from .ipython import load_ipython_extension

    load_ipython_extension(shell)


def unload_ipython_extension(shell):
    from .ipython import unload_ipython_extension

    unload_ipython_extension(shell)
