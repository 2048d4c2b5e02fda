# A regression under MirroredStrategy (two logical CPUs) whose SGD learning rate overflows the weights to NaN in
# the first epoch: diagnosed as under no strategy, and the replica the NaN first appeared on is named.
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
X = rng.normal(size=(320, 8)).astype("float32")
y = (X @ rng.normal(scale=60.0, size=8) + rng.normal(scale=10.0, size=320)).astype("float32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
model.fit(X, y, epochs=2, batch_size=32, validation_split=0.2, verbose=0)
