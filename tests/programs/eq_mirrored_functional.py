# A functional model with two outputs trained under MirroredStrategy (two logical CPUs):
# BatchNormalization, Dropout, validation_split, per-output losses and metrics, SGD
# with momentum, all in the strategy's scope. The loop runs the step on both replicas and reduces logs and
# probes across them.
# mechanism: loop
# replicas: 2
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from _save import save  # noqa: E402

keras.utils.set_random_seed(7)
rng = np.random.default_rng(1)
X = rng.normal(size=(240, 6)).astype("float32")
labels = (X[:, 0] - X[:, 1] > 0).astype("int32")
target = (X[:, 2:4].sum(axis=1, keepdims=True)).astype("float32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(12, activation="tanh")(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.Dropout(0.3)(hidden)
    classes = keras.layers.Dense(2, activation="softmax", name="classes")(hidden)
    value = keras.layers.Dense(1, name="value")(hidden)
    model = keras.Model(inputs, [classes, value])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]])
history = model.fit(X, [labels, target], batch_size=24, epochs=2, validation_split=0.2, verbose=0)
save("model", model, history)
