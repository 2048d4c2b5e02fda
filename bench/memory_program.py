# The workload of the memory benchmark: a tiny model trained for BENCH_STEPS steps (one sample per batch).
# Prints the process's peak resident memory, and the rows and bytes of the trace the run kept.
import os
import resource
import sys

import keras
import numpy as np

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(100, 4)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5, 1.5], "float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse")
steps = int(os.environ.get("BENCH_STEPS", "1000"))
model.fit(x, y, batch_size=1, epochs=steps // 100, verbose=0)


def kept():
    """What the run kept, read from dnn-instrument's run (imported here: a top-level import of
    dnn_instrument would mark this file as already instrumented)."""
    from dnn_instrument.runtime import session

    store = session.current().stores[-1]
    folder = session.current().folder
    disk = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
    return f"steps={store.iterations} rows={len(store.values)} trace_bytes={store.values.nbytes} disk_bytes={disk}"


print(f"MEMORY {kept()} peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
