"""When the explicit loop must not run: models it cannot stand in for, and errors raised inside it."""

import functools
import inspect
import sys

import keras

from .callback import Diagnose
from .record.fitting import own_training
from .record.support import unsupported_strategy


def loop_supports(model):
    """Whether the generated loop trains ``model`` exactly as ``fit`` would; else ``fit`` runs with ``Diagnose``.

    The loop stands for Keras's own ``train_step``. A model that overrides ``train_step``,
    ``compute_loss``'s signature, ``make_train_function`` or ``fit`` itself trains its own way, and is left to
    its own ``fit`` (with the callback attached), and so does a model under a ``tf.distribute`` strategy not in
    ``distributed.SUPPORTED``.
    """
    if not isinstance(model, keras.Model):
        return False
    own, strategy = own_training(model), unsupported_strategy(model)
    if own:
        reason = f"{type(model).__name__} defines its own {', '.join(own)}"
    elif strategy is not None:
        from .record.distributed import SUPPORTED

        reason = (
            f"the model trains under tf.distribute's {strategy}, which the explicit loop does not support "
            f"(it supports {', '.join(SUPPORTED[:-1])} and {SUPPORTED[-1]})"
        )
    else:
        return True
    print(
        f"dnn-instrument: {reason}; training it with its own fit and the Diagnose callback instead of the explicit loop",
        file=sys.stderr,
    )
    return False


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


def diagnosed(fit, site):
    """``fit`` (a bound ``model.fit``) that also gets a ``Diagnose`` callback, with a sample of its own
    ``x``/``y``: what the transformer writes for a call it keeps (``diagnosed(model.fit, site)(...)``)."""

    @functools.wraps(fit)
    def call(*args, **kwargs):
        signature = inspect.signature(fit)
        try:
            bound = signature.bind(*args, **kwargs)
        except (TypeError, ValueError):  # let fit itself say what is wrong with its arguments
            return fit(*args, **kwargs)
        arguments = bound.arguments
        sample = (arguments.get("x"), arguments.get("y")) if "x" in arguments else None
        if "callbacks" in signature.parameters:
            arguments["callbacks"] = with_diagnose(arguments.get("callbacks"), site, sample=sample)
            return fit(*bound.args, **bound.kwargs)
        kwargs["callbacks"] = with_diagnose(kwargs.get("callbacks"), site, sample=sample)  # fit(*args, **kwargs)
        return fit(*args, **kwargs)

    return call


def note_error_site(error, site):
    """Point an error raised in the generated loop back at the user's ``fit`` call."""
    error.add_note(f"(raised in the training loop dnn-instrument generated for the model.fit call at {site})")
