"""What an instrumented script imports: the pieces its explicit training loop calls, and ``Diagnose``.

Importing this package is cheap and imports neither Keras nor TensorFlow (the script's own imports
come first); the names below load their modules on first use.
"""

import importlib

_EXPORTS = {
    "FitData": "record.fitting",
    "LayerGraph": "record.graph",
    "Probe": "loop",
    "Diagnose": "callback",
    "TraceStore": "record.trace",
    "check_versions": "compat",
    "on_replicas": "record.distributed",
    "unscaled_loss": "record.distributed",
    "compiled_step": "record.step",
    "loop_supports": "fallback",
    "with_diagnose": "fallback",
    "diagnosed": "fallback",
    "note_error_site": "fallback",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
