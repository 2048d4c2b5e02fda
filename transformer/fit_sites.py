"""Find the ``model.fit(...)`` calls of a module and decide what to do with each.

Each call becomes a ``FitSite`` with an ``action``:

- ``"rewrite"``: the receiver is a Keras model whose training the generated loop reproduces; the call
  is replaced by a call of the loop. Also a function's parameter (``def compile_and_fit(model, ...)``)
  when the call is recognisably Keras: the loop decides at run time (``runtime.loop_supports``) whether it
  can train the object it gets, and otherwise calls its own ``fit`` with the ``Diagnose`` callback.
- ``"callback"``: it is Keras, but not safely rewritable (its own ``train_step``, an origin that cannot
  be followed, arguments the loop does not take): ``fit`` stays and gets the ``Diagnose`` callback.
- ``"skip"``: Keras, but nothing can be attached safely: left unchanged, with a message.
- ``"ignore"``: not a Keras ``fit`` (``sklearn_model.fit(X, y)``): left unchanged, silently.

``reason`` says why, for the messages the CLI prints as ``path:line:col: ...``.
"""

from dataclasses import dataclass

import libcst as cst

from .models import REWRITABLE, ModelOrigins

# fit's parameters, in order (keras/src/trainers/trainer.py); the generated loop takes the same.
FIT_PARAMETERS = (
    "x",
    "y",
    "batch_size",
    "epochs",
    "verbose",
    "callbacks",
    "validation_split",
    "validation_data",
    "shuffle",
    "class_weight",
    "sample_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
)
CALLBACKS_POSITION = FIT_PARAMETERS.index("callbacks")
# Keywords that only Keras's fit takes among common libraries: evidence that an unknown receiver is a Keras model.
KERAS_ONLY_KEYWORDS = {
    "epochs",
    "batch_size",
    "validation_split",
    "validation_data",
    "steps_per_epoch",
    "initial_epoch",
    "validation_freq",
    "validation_steps",
}


@dataclass
class FitSite:
    call: cst.Call
    line: int
    column: int
    action: str
    reason: str
    top_statement: object = None  # the module-level statement that contains the call

    @property
    def receiver(self):
        return self.call.func.value


def classify(call, origins, callback_only=False):
    """``(action, reason)`` for one ``<receiver>.fit(...)`` call; ``callback_only`` never rewrites."""
    receiver = call.func.value
    keywords = {arg.keyword.value for arg in call.args if arg.keyword is not None}
    unknown = sorted(keywords - set(FIT_PARAMETERS))
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    origin = origins.origin(receiver)
    keras_evidence = (
        origin.is_keras
        or bool(keywords & KERAS_ONLY_KEYWORDS)
        or (isinstance(receiver, cst.Name) and origins.is_compiled(receiver.value))
    )
    if not keras_evidence:
        return "ignore", "not a Keras model.fit call (no Keras model or fit arguments found)"
    if origins.in_fstring(call):  # the label the rewrite adds is a quoted string: it could close the f-string
        return "skip", "fit() is called inside an f-string; left unchanged"
    if unknown:
        return "skip", f"fit() arguments the loop does not know: {', '.join(unknown)}; left unchanged"
    if len(positional) > len(FIT_PARAMETERS):
        return "skip", "fit() has more positional arguments than Keras's fit takes; left unchanged"
    if origin.kind in REWRITABLE and not callback_only:
        return "rewrite", origin.detail if origin.kind == "parameter" else f"{origin.kind} model"
    why = "--callback asked for" if callback_only else origin.detail or "the model's origin cannot be resolved"
    if any(arg.star == "**" for arg in call.args) and "callbacks" not in keywords:
        return "skip", f"{why}, and **kwargs may already hold callbacks; left unchanged"
    if len(positional) > CALLBACKS_POSITION or any(arg.star == "*" for arg in call.args):
        return "skip", f"{why}, and callbacks are passed by position; left unchanged"
    return "callback", f"{why}: fit kept, Diagnose callback attached"


def find_fit_sites(wrapper, callback_only=False):
    """All ``.fit(...)`` calls of the module behind ``wrapper`` (a libcst MetadataWrapper), classified."""
    origins = ModelOrigins(wrapper)
    if not origins.fit_calls:
        return []
    positions = origins.positions
    sites = []
    for call, top_statement in origins.fit_calls:
        start = positions[call].start
        action, reason = classify(call, origins, callback_only)
        sites.append(FitSite(call, start.line, start.column + 1, action, reason, top_statement))
    return sites
