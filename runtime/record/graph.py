"""The layer calls that ``model(x, training=...)`` makes, one at a time, so a loop can probe each output.

For a ``Sequential`` or functional model, ``LayerGraph`` walks the model's own graph in the order Keras
walks it (``Function._run_through_graph``: nodes by decreasing depth), with Keras's own argument filling
and call-context injection, inside the call context that ``model.__call__`` opens. Running the nodes one
by one therefore computes exactly what ``model(x, training=True)`` computes, op for op, while giving
the generated loop each layer's output. Any other model (a subclass with its own ``call``) is one
opaque node: its output is still probed, its inner layers are not.

All use of Keras internals for the forward pass lives here (see ``compat.py`` for the versions covered).
"""

import contextlib
from dataclasses import dataclass

from keras.src import backend, tree
from keras.src.backend.common import global_state
from keras.src.models import Functional, Sequential
from keras.src.models.functional import operation_fn


@dataclass
class Node:
    """One layer call of the model's forward pass."""

    layer: object  # the keras Layer (or Operation) called
    index: object  # its index in ``model.layers``, or None for an op that is not a layer
    _node: object = None  # the keras graph Node; None for an opaque whole-model call
    _function: object = None  # the Functional that owns ``_node``

    @property
    def name(self):
        return self.layer.name

    def call(self, tensors, training):
        """Call the layer on its inputs from ``tensors``, store its outputs there, and return them."""
        if self._node is None:
            outputs = self.layer(tensors["inputs"], training=training)
            tensors["outputs"] = outputs
            return outputs
        args, kwargs = self._node.arguments.fill_in(tensors)
        operation = operation_for(self._function, self._node)
        outputs = operation_fn(operation, training=training)(*args, **kwargs)
        for reference, value in zip(self._node.outputs, tree.flatten(outputs)):
            tensors[id(reference)] = value
        return outputs


class LayerGraph:
    """The forward pass of ``model`` as a list of ``Node`` objects, in execution order."""

    def __init__(self, model):
        self.model = model
        self.function = _functional_of(model)
        if self.function is None:
            self.nodes = [Node(model, None)]
            return
        position = {id(layer): i for i, layer in enumerate(model.layers)}
        self.nodes = []
        for depth in sorted(self.function._nodes_by_depth, reverse=True):
            for node in self.function._nodes_by_depth[depth]:
                if node.operation is None or node.is_input:
                    continue
                index = position.get(id(node.operation))
                self.nodes.append(Node(node.operation, index, node, self.function))

    @contextlib.contextmanager
    def calling(self, training):
        """The call context that ``model.__call__(x, training=training)`` opens around its layers."""
        model = self.model
        previous = global_state.get_global_attribute("current_call_ctx")
        global_state.set_global_attribute("current_call_ctx", None)
        context = model._get_call_context()  # a fresh context entered by the model; clears its losses
        context.set_value("training", training)
        autocast = (
            backend.AutocastScope(model.compute_dtype)
            if model.autocast and model.compute_dtype != model.variable_dtype
            else contextlib.nullcontext()
        )
        try:
            with autocast:
                yield
        finally:
            global_state.set_global_attribute("current_call_ctx", previous)

    def feed(self, x):
        """The model's inputs as its first layers see them: ``{graph tensor id: value}``."""
        if self.function is None:
            return {"inputs": x}
        model = self.model
        if model._convert_input_args:
            x = tree.map_structure(lambda t: model.dtype_policy.convert_input(t, model.autocast, model.input_dtype), x)
        inputs = self.function._standardize_inputs(x)
        return {id(reference): value for reference, value in zip(self.function.inputs, inputs)}

    def result(self, tensors):
        """The model's output (same structure as ``model(x)`` returns) once every node has run."""
        if self.function is None:
            return tensors["outputs"]
        outputs = [tensors[id(reference)] for reference in self.function.outputs]
        outputs = tree.pack_sequence_as(self.function._outputs_struct, outputs)
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:  # Functional's unpack_singleton
            return outputs[0]
        return outputs


def operation_for(function, node):
    """The operation a functional graph's ``node`` runs (Keras 3.11 maps it through ``_get_operation_for_node``
    for Flax NNX; Keras 3.10 has no such mapping and runs ``node.operation``)."""
    get = getattr(function, "_get_operation_for_node", None)
    return get(node) if get is not None else node.operation


def sublayers(layer):
    """The layers ``layer`` holds directly (a custom layer's own sub-layers)."""
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except (AttributeError, TypeError):
        return []


def inbound_tensors(layer):
    """The symbolic tensors ``layer`` was called on, over all its calls in the model's graph."""
    return [
        tensor
        for node in getattr(layer, "_inbound_nodes", []) or []
        for tensor in getattr(node, "input_tensors", []) or []
    ]


def producer_name(tensor):
    """The name of the layer whose output the symbolic ``tensor`` is, or None."""
    return getattr(getattr(getattr(tensor, "_keras_history", None), "operation", None), "name", None)


def _functional_of(model):
    if isinstance(model, Sequential):
        return model._functional  # None when the Sequential could not be made functional
    if isinstance(model, Functional) and type(model).call is Functional.call:
        return model
    return None
