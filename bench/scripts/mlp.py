# Whole-script benchmark: an MLP on scikit-learn's digits (bundled), as a tutorial would write it.
# BENCH_STEPS=N: a steady-state run instead (bench/scripts/common.py).
import time

import keras
from common import Clock, epochs, report
from sklearn.datasets import load_digits

keras.utils.set_random_seed(0)
x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
model = keras.Sequential(
    [
        keras.Input((64,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
clock = Clock(len(x), 32)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=epochs(len(x), 32, 40), verbose=0, callbacks=[clock])
report([model], time.perf_counter() - start, clock)
