"""When the explicit loop must not run: models it cannot stand in for, and errors raised inside it."""

import sys

import keras
from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

from .callback import Diagnose


def loop_supports_quietly(model):
    """``loop_supports`` without its message: whether ``LayerGraph`` can walk the model like ``fit``."""
    return isinstance(model, keras.Model) and not _own_training(model)


def _own_training(model):
    cls = type(model)
    return [
        name
        for name in ("fit", "train_step", "make_train_function")
        if getattr(cls, name, None) is not getattr(TensorFlowTrainer, name, None)
        and getattr(cls, name, None) is not getattr(keras.Model, name, None)
    ]


def loop_supports(model):
    """Whether the generated loop trains ``model`` exactly as ``fit`` would; else ``fit`` runs with ``Diagnose``.

    The loop stands for Keras's own ``train_step``. A model that overrides ``train_step``,
    ``compute_loss``'s signature, ``make_train_function`` or ``fit`` itself trains its own way, and is left to
    its own ``fit`` (with the callback attached).
    """
    if not isinstance(model, keras.Model):
        return False
    own = _own_training(model)
    if own:
        print(
            f"dnn-instrument: {type(model).__name__} defines its own {', '.join(own)}; "
            "training it with its own fit and the Diagnose callback instead of the explicit loop",
            file=sys.stderr,
        )
        return False
    return True


def with_diagnose(callbacks, site, sample=None):
    """``callbacks`` (None, one callback, a list or a CallbackList) with a ``Diagnose`` callback added.

    ``sample``: the ``(x, y)`` of the ``fit`` call, from which the callback takes its sample (see callback.py).
    """
    diagnose = Diagnose(site, sample=sample)
    if callbacks is None:
        return [diagnose]
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks.append(diagnose)
        return callbacks
    if isinstance(callbacks, keras.callbacks.Callback):
        return [callbacks, diagnose]
    return [*callbacks, diagnose]


def note_error_site(error, site):
    """Point an error raised in the generated loop back at the user's ``fit`` call."""
    error.add_note(f"(raised in the training loop dnn-instrument generated for the model.fit call at {site})")
