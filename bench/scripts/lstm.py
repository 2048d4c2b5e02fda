# Whole-script benchmark: an LSTM classifying synthetic sequences (is the first feature's sum positive?).
# BENCH_STEPS=N: a steady-state run instead (bench/scripts/common.py).
import time

import keras
import numpy as np
from common import Clock, epochs, report

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(1024, 20, 8)).astype("float32")
y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((20, 8)), keras.layers.LSTM(32), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
clock = Clock(len(x), 32)
start = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=epochs(len(x), 32, 40), verbose=0, callbacks=[clock])
report([model], time.perf_counter() - start, clock)
