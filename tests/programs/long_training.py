"""A training that runs long enough to be interrupted: many small epochs on synthetic data.

argv[1]: "fit" (the transformer rewrites the fit) or "raise" (a callback raises in the third epoch).
"""

import sys

import keras
import numpy as np

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")


class Fails(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise RuntimeError("the user's callback fails")


callbacks = [Fails()] if sys.argv[1:] == ["raise"] else []
print("training", flush=True)
model.fit(x, y, batch_size=8, epochs=400, verbose=0, callbacks=callbacks)
