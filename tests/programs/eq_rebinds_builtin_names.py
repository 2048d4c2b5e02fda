# A module that rebinds names generated code could use: zip (`with ZipFile(...) as zip:`), range, tf,
# keras, runtime, Exception. The instrumented loop must not depend on any of them.
import io
import zipfile
from zipfile import ZipFile

import numpy as np
import tensorflow as tf
import keras

from _save import save

keras.utils.set_random_seed(2)
buffer = io.BytesIO()
with ZipFile(buffer, "w") as archive:
    archive.writestr("data.txt", "0")
with ZipFile(buffer) as zip:
    names = zip.namelist()

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 6)).astype("float32")
y = (X[:, 0] + X[:, 1] > 0).astype("float32")
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])

range = list  # noqa: A001 (on purpose)
tf = "not tensorflow"
runtime = None
Exception = ValueError  # noqa: A001
history = keras.Model.fit  # not used: `history` is rebound below
keras_module = keras
keras = None
history = model.fit(X, y, batch_size=32, epochs=2, verbose=0)
save("model", model, history)
