# The workload of the scaling and steady-state benchmarks: a stack of BENCH_DEPTH Dense layers on synthetic data,
# BENCH_STEPS steps of batch 32. Prints the fit's seconds, the seconds per step after the first epoch (tracing and
# compiling excluded: steady state) and in the fastest of those epochs, the process's peak resident memory and a
# checksum of the final weights.
import os
import resource
import sys
import time

import keras
import numpy as np

keras.utils.set_random_seed(0)
depth = int(os.environ.get("BENCH_DEPTH", "5"))
steps = int(os.environ.get("BENCH_STEPS", "400"))
epochs = 4
x = np.random.default_rng(0).normal(size=(32 * steps // epochs, 32)).astype("float32")
y = (x[:, :1] > 0).astype("float32")
model = keras.Sequential(
    [keras.Input((32,))]
    + [keras.layers.Dense(32, activation="relu") for _ in range(depth)]
    + [keras.layers.Dense(1, activation="sigmoid")]
)
model.compile(optimizer="adam", loss="binary_crossentropy")


class Clock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epoch_seconds = []  # of the steady epochs, each

    def on_epoch_begin(self, epoch, logs=None):
        self.began = time.perf_counter()
        if epoch == 1:
            self.steady = self.began

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= 1:
            self.epoch_seconds.append(time.perf_counter() - self.began)

    def on_train_end(self, logs=None):
        self.steady = time.perf_counter() - self.steady


clock = Clock()
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[clock])
print(f"FIT_SECONDS {time.perf_counter() - start:.4f}", file=sys.stderr)
print(f"STEP_SECONDS {clock.steady / (steps - steps // epochs):.6f}", file=sys.stderr)
# the fastest of the steady epochs (the lower quartile of 3: bench/scripts/common.py, lower_quartile)
print(f"STEP_Q25_SECONDS {min(clock.epoch_seconds) / (steps // epochs):.6f}", file=sys.stderr)
print(f"WEIGHTS {sum(float(np.abs(w).astype('float64').sum()) for w in model.get_weights())!r}", file=sys.stderr)
print(f"PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
