# A model built and compiled in MultiWorkerMirroredStrategy's scope with one worker (no TF_CONFIG: one replica, on
# the CPU), with Dropout and validation_split: the loop runs its step through strategy.run, as fit does. (Two
# workers: tests/test_distributed.py runs tests/programs/multiworker_pair.py as a cluster.)
# mechanism: loop
# replicas: 1
import numpy as np
import tensorflow as tf

import keras

from _save import save

keras.utils.set_random_seed(4)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype("float32")
y = (X[:, :2].sum(axis=1) > 0).astype("float32")
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=32, epochs=2, validation_split=0.25, verbose=0)
save("model", model, history)
