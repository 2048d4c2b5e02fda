"""dnn-instrument: find why a Keras model does not train.

``dnn_instrument.transformer`` rewrites ``model.fit`` into an explicit, probed training loop;
``dnn_instrument.runtime`` is what the rewritten script imports. ``Diagnose`` is the one-line
callback alternative: ``model.fit(..., callbacks=[dnn_instrument.Diagnose()])``. In IPython or Jupyter,
``%load_ext dnn_instrument`` diagnoses the ``fit`` calls of cells as they run (``ipython.py``).
"""

import os
import sys

__version__ = "0.1.0"


def _watch_main_script():
    """Layers created by a script that uses ``Diagnose`` by hand (not instrumented) get their lines too: the
    script run as ``python train.py`` is watched as its own original (an instrumented one re-watches itself
    right after, with its line map). Not for ``python -m``, installed entry points or interactive sessions."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or getattr(main, "__spec__", None) is not None or not path.endswith(".py"):
        return
    path = os.path.abspath(path)
    if path.startswith(os.path.abspath(sys.prefix) + os.sep) or path.startswith(
        os.path.dirname(os.path.abspath(__file__))
    ):
        return
    from .runtime import origins

    origins.watch(path, os.path.basename(path), inserted=[])


_watch_main_script()


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
