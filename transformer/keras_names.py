"""Which Keras object a name stands for, whatever the import spelling.

libcst's ``QualifiedNameProvider`` turns ``tf.keras.Sequential`` (after ``import tensorflow as tf``),
``K.Model`` (after ``import keras as K``), ``Dense`` (after ``from tensorflow.keras.layers import
Dense``) into fully qualified import paths. ``keras_path`` strips the package prefix that Keras 3 can be
reached through, so the rest of the transformer asks one question: ``keras_path(...) == "models.Sequential"``.
"""

from libcst.metadata import QualifiedNameSource

# Longest first: "tensorflow.keras." must win over "keras.".
KERAS_PREFIXES = (
    "tensorflow.python.keras.",
    "tensorflow.keras.",
    "keras._tf_keras.keras.",
    "tf_keras.",
    "keras.src.",
    "keras.",
)

MODEL_CLASSES = {"Sequential": "sequential", "Model": "functional"}
MODEL_LOADERS = {"load_model", "clone_model", "model_from_json", "model_from_config", "model_from_yaml"}


def keras_path(qualified_names):
    """The path inside Keras (``"layers.Dense"``, ``"Sequential"``) of an imported name, or None."""
    for qualified in qualified_names:
        if qualified.source is not QualifiedNameSource.IMPORT:
            continue
        for prefix in KERAS_PREFIXES:
            if qualified.name.startswith(prefix):
                return qualified.name[len(prefix) :]
    return None


def model_kind(path):
    """``"sequential"``/``"functional"``/``"loaded"`` when calling Keras ``path`` returns a model, else None."""
    if path is None:
        return None
    parts = path.split(".")
    if "layers" in parts[:-1]:
        return None
    if parts[-1] in MODEL_CLASSES:
        return MODEL_CLASSES[parts[-1]]
    if parts[-1] in MODEL_LOADERS:
        return "loaded"
    if parts[0] == "applications" and len(parts) > 1 and parts[-1][:1].isupper():
        return "functional"  # keras.applications.MobileNetV2(...) and friends are functional models
    return None


def is_model_class(path):
    """Whether ``path`` is the Keras Model (or Sequential) class, for ``class M(keras.Model)``."""
    return path is not None and path.split(".")[-1] in MODEL_CLASSES and "layers" not in path.split(".")
