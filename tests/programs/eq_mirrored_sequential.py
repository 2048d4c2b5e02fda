# A Sequential model built and compiled in MirroredStrategy's scope over two logical CPUs, with BatchNormalization,
# Dropout and validation_split: the loop runs its step on both replicas through strategy.run, as fit does.
# mechanism: loop
# replicas: 2
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from _save import save  # noqa: E402

keras.utils.set_random_seed(4)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype("float32")
y = (X[:, :2].sum(axis=1) > 0).astype("float32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(0.2),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=32, epochs=2, validation_split=0.25, verbose=0)
save("model", model, history)
