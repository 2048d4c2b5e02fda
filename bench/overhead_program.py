# The workload of the overhead benchmark: an MLP and a small convnet on the digits, timed around fit.
# BENCH_STRATEGY=mirrored: built, compiled and trained under MirroredStrategy over two logical CPUs.
import contextlib
import os
import sys
import time

import tensorflow as tf

mirrored = os.environ.get("BENCH_STRATEGY") == "mirrored"
if mirrored:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

keras.utils.set_random_seed(0)
X, y = load_digits(return_X_y=True)
X = X / 16.0
kind = os.environ.get("BENCH_MODEL", "mlp")
scope = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope() if mirrored else contextlib.nullcontext()
scope.__enter__()
if kind == "mlp":
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
else:
    X = X.reshape(-1, 8, 8, 1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
scope.__exit__(None, None, None)
epochs = int(os.environ.get("BENCH_EPOCHS", "8"))
start = time.perf_counter()
model.fit(X, y, batch_size=32, epochs=epochs, verbose=0)
print(f"FIT_SECONDS {time.perf_counter() - start:.4f}", file=sys.stderr)
