# Whole-script benchmark: a small convnet on scikit-learn's digits (8x8 images, bundled).
# BENCH_STEPS=N: a steady-state run instead (bench/scripts/common.py).
import time

import keras
from common import Clock, epochs, report
from sklearn.datasets import load_digits

keras.utils.set_random_seed(0)
x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
clock = Clock(len(x), 32)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=epochs(len(x), 32, 20), verbose=0, callbacks=[clock])
report([model], time.perf_counter() - start, clock)
