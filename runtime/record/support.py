"""Which models the explicit loop can stand in for ``fit`` on; ``fallback.py`` keeps ``fit`` for the others."""

import keras

from .fitting import own_training


def loop_supports_quietly(model):
    """``fallback.loop_supports`` without its message: whether ``LayerGraph`` can walk the model like ``fit``."""
    return isinstance(model, keras.Model) and not own_training(model) and unsupported_strategy(model) is None


def unsupported_strategy(model):
    """The name of the ``tf.distribute`` strategy ``model`` trains under when the loop cannot run under it, else None.

    The loop runs its step through ``strategy.run`` and reduces across replicas as ``fit`` does
    (``distributed.py``) for the strategies in ``distributed.SUPPORTED``; a model created in the scope of
    any other strategy, or trained inside one, keeps its own ``fit``.
    """
    from .distributed import SUPPORTED, name_of, strategy_of

    strategy = strategy_of(model)
    if strategy is None or name_of(strategy) in SUPPORTED:
        return None
    return name_of(strategy)
