"""Hidden activations: ``activation='relu'`` added to the Dense layers that have none (``architecture``: a
stack that collapses into one linear map), or replacing sigmoid/tanh in hidden layers whose gradient
vanishes or that saturate. The output layer (the file's last layer call) is never touched."""

from .output import is_activation_layer
from .source import argument, layers_named, literal, quoted, set_argument

SATURATING = {"sigmoid", "tanh"}


def candidates(source, finding, findings=()):
    layers = source.layer_calls()
    output = max(layers, key=source.line) if layers else None
    cause = finding.get("cause")
    edits = {}
    if cause == "architecture":
        for call in layers_named(source, finding, findings):
            if is_activation_layer(source, call):
                continue
            current = argument(call, "activation", 1)
            if call is not output and (current is None or literal(current.value) in (None, "linear")):
                edits[call] = set_argument(call, "activation", source.string("relu"), 1)
        return [(f"activation='relu' added to {len(edits)} layer(s)", source.apply(edits))] if edits else []
    for call in layers:
        position = 0 if is_activation_layer(source, call) else 1  # Activation("sigmoid") or Dense(32, "sigmoid")
        current = argument(call, "activation", position)
        if call is not output and current is not None and literal(current.value) in SATURATING:
            edits[call] = set_argument(call, "activation", quoted(current.value, "relu"), position)  # in its own quotes
    return (
        [(f"activation='relu' instead of sigmoid/tanh in {len(edits)} hidden layer(s)", source.apply(edits))]
        if edits
        else []
    )
