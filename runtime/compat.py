"""Which Keras and TensorFlow the generated training loop is written against, checked at import time.

The loop reuses Keras's own machinery (its epoch iterators, validation split, symbolic build, loss
tracker) so that it trains exactly as ``fit`` does. Some of that machinery is private to Keras, so the
range below is the range it was checked on; outside it the loop refuses to start with a clear message
rather than train differently from ``fit``. Keep this in step with ``pyproject.toml``.
"""

import importlib.metadata

SUPPORTED = {"keras": ((3, 10), (3, 16)), "tensorflow": ((2, 18), (2, 22))}
# The private pieces of Keras the loop depends on; checked so that a Keras that moved them fails loudly.
REQUIRED_KERAS_INTERNALS = (
    ("keras.src.trainers.data_adapters.array_slicing", "train_validation_split"),
    ("keras.src.backend.tensorflow.trainer", "TFEpochIterator"),
    ("keras.src.models.functional", "operation_fn"),
)


class UnsupportedVersion(RuntimeError):
    pass


def _version(distribution, *alternatives):
    for name in (distribution, *alternatives):
        try:
            text = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return text, tuple(int(part) for part in text.split(".")[:2] if part.isdigit())
    return None, None


def check_versions():
    """Raise ``UnsupportedVersion`` with an actionable message when Keras or TensorFlow is out of range."""
    import importlib

    found = {
        "keras": _version("keras"),
        "tensorflow": _version("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tf-nightly"),
    }
    for package, (low, high) in SUPPORTED.items():
        text, version = found[package]
        if version is None:
            raise UnsupportedVersion(f"dnn-instrument needs {package}; it is not installed.")
        if not low <= version < high:
            raise UnsupportedVersion(
                f"dnn-instrument supports {package} >={low[0]}.{low[1]},<{high[0]}.{high[1]}; found {text}. "
                "Install a supported version, or run the original (uninstrumented) script."
            )
    for module, name in REQUIRED_KERAS_INTERNALS:
        if not hasattr(importlib.import_module(module), name):
            raise UnsupportedVersion(f"this Keras has no {module}.{name}, which the training loop needs")
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UnsupportedVersion(
            f"dnn-instrument needs the TensorFlow backend of Keras; KERAS_BACKEND is {keras.backend.backend()!r}"
        )
