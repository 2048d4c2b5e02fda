"""A training that saves a .keras checkpoint every epoch, and its continuation from one of them.

argv: ``train`` (many small epochs, ModelCheckpoint to ``ckpt-EPOCH.keras`` in the working directory) or
``resume CHECKPOINT OUT.npz`` (load the checkpoint, train two more epochs, save the final weights).
"""

import sys

import keras
import numpy as np

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")

if sys.argv[1] == "train":
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.1),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    checkpoint = keras.callbacks.ModelCheckpoint("ckpt-{epoch:03d}.keras")
    model.fit(x, y, batch_size=8, epochs=400, verbose=0, callbacks=[checkpoint])
else:
    model = keras.models.load_model(sys.argv[2])
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    np.savez(sys.argv[3], *model.get_weights())
