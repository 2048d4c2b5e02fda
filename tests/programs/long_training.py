"""A training that runs long enough to be interrupted: many small epochs on synthetic data.

argv[1]: "fit" (the transformer rewrites the fit), "raise" (a callback raises in the third epoch) or
"lost-interrupt" (in the third epoch, Ctrl-C arrives while Python runs a ``__del__``, which swallows it).
"""

import os
import signal
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


class InterruptInDestructor(keras.callbacks.Callback):
    """Ctrl-C delivered while a destructor runs: Python raises KeyboardInterrupt inside ``__del__``, prints
    "Exception ignored" and goes on (TensorFlow runs many destructors between steps)."""

    class Interrupts:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            [None for _ in range(1000)]  # the next bytecodes: Python raises the KeyboardInterrupt here

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            self.Interrupts()  # made and dropped at once: its __del__ runs here


callbacks = {"raise": [Fails()], "lost-interrupt": [InterruptInDestructor()]}.get(sys.argv[1], [])
print("training", flush=True)
model.fit(x, y, batch_size=8, epochs=400, verbose=0, callbacks=callbacks)
