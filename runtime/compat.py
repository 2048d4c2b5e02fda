"""Which Keras and TensorFlow the generated training loop is written against, checked at import time.

The loop reuses Keras's own machinery (its epoch iterators, validation split, symbolic build, loss
tracker) so that it trains exactly as ``fit`` does. Some of that machinery is private to Keras, so the
range below is the range it was checked on; outside it the loop refuses to start with a clear message
rather than train differently from ``fit``. Keep this in step with ``pyproject.toml``.
"""

import importlib.metadata
import os
import sys

SUPPORTED = {"keras": ((3, 10), (3, 16)), "tensorflow": ((2, 16), (2, 22))}
#: The module that defines ``keras.layers.Layer``: origins.py patches ``Layer.__new__`` when it is imported.
LAYER_MODULE = "keras.src.layers.layer"
# Every private piece of Keras the runtime uses (only record/graph.py and record/fitting.py touch them: the Keras
# boundary, kept so by tests/test_compat.py), checked before training
# so that a Keras that moved one refuses with a message instead of crashing mid-fit. Three kinds of entry:
# a module's name ("name"), a class's attribute ("Class.name"), and an attribute Keras sets on instances
# ("Class.self._name": its class's module must assign it, to ``self`` or to the objects it makes), and a private parameter ("Class.method(_name)", also one it pops from ``**kwargs``).
REQUIRED_KERAS_INTERNALS = (
    ("keras.src.trainers.data_adapters.array_slicing", "train_validation_split"),
    ("keras.src.trainers.data_adapters.data_adapter_utils", "unpack_x_y_sample_weight"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator.catch_stop_iteration"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator.reset"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator.num_batches"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator.self._distributed_dataset"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer.self._eval_epoch_iterator"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer.self._distribute_strategy"),
    ("keras.src.ops.operation", "Operation.self._inbound_nodes"),
    ("keras.src.ops.node", "KerasHistory.self._keras_history"),  # set on symbolic tensors by node.py
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer.evaluate(_use_cached_eval_dataset)"),
    ("keras.src.trainers.trainer", "Trainer._assert_compile_called"),
    ("keras.src.trainers.trainer", "Trainer._get_metrics_result_or_logs"),
    ("keras.src.trainers.trainer", "Trainer._should_eval"),
    ("keras.src.trainers.trainer", "Trainer._symbolic_build"),
    ("keras.src.trainers.trainer", "Trainer.self._loss_tracker"),
    ("keras.src.trainers.trainer", "Trainer.self._initial_epoch"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer._maybe_symbolic_build"),
    ("keras.src.models.functional", "operation_fn"),
    ("keras.src.models.functional", "Functional._standardize_inputs"),
    ("keras.src.ops.function", "Function.self._nodes_by_depth"),
    ("keras.src.ops.function", "Function.self._outputs_struct"),
    ("keras.src.models", "Functional"),
    ("keras.src.models", "Sequential"),
    ("keras.src.models.sequential", "Sequential.self._functional"),
    ("keras.src.layers.layer", "Layer"),
    ("keras.src.layers.layer", "Layer._get_call_context"),
    ("keras.src.layers.layer", "Layer._flatten_layers"),
    ("keras.src.backend.tensorflow.trainer", "reduce_per_replica"),
    ("keras.src.backend.tensorflow.trainer", "_collective_all_reduce_multi_worker"),
    # TensorFlow's: how MultiWorkerMirroredStrategy numbers a worker's replicas across the cluster
    (
        "tensorflow.python.distribute.collective_all_reduce_strategy",
        "CollectiveAllReduceExtended._get_replica_id_in_sync_group",
    ),
    ("keras.src.losses.loss", "unscale_loss_for_distribution"),
    ("keras.src.layers.layer", "Layer.self._convert_input_args"),
    ("keras.src.optimizers", "Optimizer"),
    ("keras.src.backend", "AutocastScope"),
    ("keras.src.backend.config", "max_epochs"),
    ("keras.src.backend.common.global_state", "get_global_attribute"),
    ("keras.src.backend.common.global_state", "set_global_attribute"),
    ("keras.src.tree", "flatten"),
    ("keras.src.tree", "map_structure"),
    ("keras.src.tree", "pack_sequence_as"),
)


class UnsupportedVersion(SystemExit):
    """The loop refuses to train: its message (``str(error)``, also ``error.code``) says why and what to do.

    A ``SystemExit``, so that the instrumented script stops before training with this message and status 1,
    never a traceback (``dnn-instrument run`` exits the same way), and a script's ``except Exception`` cannot
    swallow it into training something else."""

    def __str__(self):
        return str(self.code)


_warned = set()


def _warn_once(message):
    if message not in _warned:
        _warned.add(message)
        print(message, file=sys.stderr)


def _version(distribution, *alternatives):
    for name in (distribution, *alternatives):
        try:
            text = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return text, tuple(int(part) for part in text.split(".")[:2] if part.isdigit())
    return None, None


def missing_internals():
    """The entries of ``REQUIRED_KERAS_INTERNALS`` this Keras lacks, as ``module.name``."""
    import importlib
    import inspect

    missing = []
    for module_name, name in REQUIRED_KERAS_INTERNALS:
        try:
            target = importlib.import_module(module_name)
            parts = name.split(".")
            if name.endswith(")"):  # Class.method(_parameter)
                method, parameter = name[:-1].split("(")
                for part in method.split("."):
                    target = getattr(target, part)
                if parameter not in inspect.signature(target).parameters and f'"{parameter}"' not in inspect.getsource(
                    target
                ):
                    raise AttributeError(name)
            elif len(parts) == 3:  # Class.self._name: an attribute the class's code assigns to instances
                cls = getattr(target, parts[0])
                source = inspect.getsource(inspect.getmodule(cls))
                if f".{parts[2]} =" not in source:
                    raise AttributeError(name)
            else:
                for part in parts:
                    target = getattr(target, part)
        except (ImportError, AttributeError, OSError, TypeError):
            missing.append(f"{module_name}.{name}")
    return missing


def check_versions():
    """Raise ``UnsupportedVersion`` with an actionable message when Keras or TensorFlow is out of range, or this
    Keras lacks an internal the loop uses. ``DNN_INSTRUMENT_ANY_VERSION=1`` lifts the range check (with a
    warning; the internals are still checked): how ``tools/compat.py --pair`` tries a candidate."""
    found = {
        "keras": _version("keras"),
        "tensorflow": _version("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"),
    }
    for package, (low, high) in SUPPORTED.items():
        text, version = found[package]
        if version is None:
            raise UnsupportedVersion(f"dnn-instrument needs {package}; it is not installed.")
        if not low <= version < high:
            wanted = f"{package}>={low[0]}.{low[1]},<{high[0]}.{high[1]}"
            if os.environ.get("DNN_INSTRUMENT_ANY_VERSION") == "1":
                _warn_once(
                    f"dnn-instrument: {package} {text} is outside the supported range ({wanted}); training anyway "
                    "(DNN_INSTRUMENT_ANY_VERSION=1): the loop may not train as fit does."
                )
                continue
            raise UnsupportedVersion(
                f"dnn-instrument: {package} {text} is not supported (the training loop is proven on {wanted}); nothing was trained. "
                f"Install a supported version (pip install '{wanted}'), or run the original (uninstrumented) script."
            )
    missing = missing_internals()
    if missing:
        raise UnsupportedVersion(
            f"dnn-instrument: this Keras ({found['keras'][0]}) lacks {', '.join(missing)}, which the training loop needs; "
            "nothing was trained. Install a supported version, or run the original (uninstrumented) script."
        )
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UnsupportedVersion(
            f"dnn-instrument needs the TensorFlow backend of Keras; KERAS_BACKEND is {keras.backend.backend()!r}"
        )
