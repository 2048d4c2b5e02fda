"""``dnn-instrument fix``'s edits: for the root cause of a diagnosis, candidate patches of the user's file.

One module per kind of edit, each a small libcst codemod over ``source.Source`` (only the edited
expressions change; every other byte of the file stays): ``output`` (output activation / loss /
``from_logits``), ``learning_rate``, ``clipping``, ``optimizer`` (beta/momentum, a schedule that decays
the rate away), ``scaling`` (input scaling, NaN in the inputs), ``initializer``, ``shuffle``, ``trainable``,
``epsilon`` (in a ``Lambda``), ``labels`` (label encoding), ``regularizer``, ``activation`` (missing or
saturating hidden activations), ``batch_size``, ``targets`` (regression targets scaled into the output's range).

``candidates(code, finding)`` lists ``Candidate``s for a finding's cause, in a fixed order (``PLAN``):
the first is the most likely repair; the others are what to try if it does not verify.
"""

from dataclasses import dataclass

from . import (
    activation,
    batch_size,
    clipping,
    epsilon,
    initializer,
    labels,
    learning_rate,
    optimizer,
    output,
    regularizer,
    scaling,
    shuffle,
    targets,
    trainable,
)
from .source import Source


@dataclass
class Candidate:
    kind: str  # the codemod module that made it
    description: str  # what it changes, for the user
    code: str  # the patched file


#: The codemods to try for each cause of ``runtime/analysis``, in order.
PLAN = {
    "last_layer_activation": [output],
    "loss_function": [output, labels],
    "output_range": [targets, output],
    "label_format": [labels, output],
    "learning_rate": [trainable, learning_rate, clipping],
    "optimizer": [trainable, optimizer, clipping, learning_rate],
    "regularization": [regularizer],
    "architecture": [activation],
    "input_normalization": [scaling],
    "data": [scaling, shuffle],
    "weight_initialization": [initializer],
    "dead_relu": [initializer, learning_rate],
    "saturated_activation": [initializer, activation],
    "exploding_gradient": [initializer, clipping],
    "vanishing_gradient": [activation, initializer],
    "numerical_operation": [epsilon],
    "batch_size": [batch_size],
    "frozen_model": [trainable],
}


def candidates(code, finding, findings=()):
    """The candidate patches of ``code`` for ``finding`` (a report finding), most likely first; each compiles
    and differs from ``code``. ``findings``: the whole list, for edits that concern several layers."""
    source = Source(code)
    made, seen = [], {code}
    for module in PLAN.get(finding.get("cause"), []):
        for description, patched in module.candidates(source, finding, findings):
            if patched in seen or not _compiles(patched):
                continue
            seen.add(patched)
            made.append(Candidate(module.__name__.rsplit(".", 1)[-1], description, patched))
    return made


def has_codemod(cause):
    return cause in PLAN


def _compiles(code):
    try:
        compile(code, "<fix>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True
