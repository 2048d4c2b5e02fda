# A model built and compiled in CentralStorageStrategy's scope (variables on the CPU, the step on two logical CPUs):
# the loop does not run under that strategy, so the call keeps fit (with the Diagnose callback and a message)
# and trains as fit does.
# says: the model trains under tf.distribute's CentralStorageStrategy, which the explicit loop does not support
# mechanism: callback
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from _save import save  # noqa: E402

keras.utils.set_random_seed(4)
rng = np.random.default_rng(0)
X = rng.normal(size=(128, 8)).astype("float32")
y = (X[:, :2].sum(axis=1) > 0).astype("float32")
strategy = tf.distribute.experimental.CentralStorageStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=32, epochs=2, verbose=0)
save("model", model, history)
