# One worker of a two-worker MultiWorkerMirroredStrategy cluster (TF_CONFIG set by tests/test_distributed.py):
# run as written (with MULTIWORKER_FIT_FIX=1: Keras's fit with its multi-worker bugs patched, see
# multiworker_fit_fix.py) and instrumented (the generated loop, unpatched), the final weights must agree.
import os

import numpy as np
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other TensorFlow operation

if os.environ.get("MULTIWORKER_FIT_FIX"):
    import multiworker_fit_fix  # noqa: F401

import keras  # noqa: E402

from _save import save  # noqa: E402

keras.utils.set_random_seed(4)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype("float32")
y = (X[:, :2].sum(axis=1) > 0).astype("float32")
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=32, epochs=2, verbose=0)
save("model", model, history)
