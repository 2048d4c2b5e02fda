# The workload of the real-architecture benchmark: a keras.applications model (weights=None) on synthetic images.
# BENCH_MODEL=mobilenet|resnet, BENCH_SIZE (pixels), BENCH_IMAGES, BENCH_EPOCHS. Prints the fit's seconds, the
# first step's seconds, the process's peak resident memory and a checksum of the final weights (same weights as fit).
import os
import resource
import sys
import time

import keras
import numpy as np

keras.utils.set_random_seed(0)
kind = os.environ.get("BENCH_MODEL", "mobilenet")
size = int(os.environ.get("BENCH_SIZE", "96"))
images = int(os.environ.get("BENCH_IMAGES", "64"))
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, size=(images, size, size, 3)).astype("float32")
y = rng.integers(0, 10, size=images)
if kind == "mobilenet":
    model = keras.applications.MobileNetV2(input_shape=(size, size, 3), weights=None, classes=10)
else:
    model = keras.applications.ResNet50(input_shape=(size, size, 3), weights=None, classes=10)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class FirstStep(keras.callbacks.Callback):
    """The seconds of the first step: tracing and compiling it, and its run."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if not hasattr(self, "seconds"):
            self.seconds = time.perf_counter() - self.start


first = FirstStep()
start = time.perf_counter()
model.fit(x, y, batch_size=16, epochs=int(os.environ.get("BENCH_EPOCHS", "2")), verbose=0, callbacks=[first])
seconds = time.perf_counter() - start
checksum = sum(float(np.abs(w).astype("float64").sum()) for w in model.get_weights())
print(f"FIT_SECONDS {seconds:.4f}", file=sys.stderr)
print(f"FIRST_STEP_SECONDS {first.seconds:.4f}", file=sys.stderr)
print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
print(f"WEIGHTS {checksum!r}", file=sys.stderr)
