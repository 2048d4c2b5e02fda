# Patterns of issue 13, one small model per fit (the report keeps each fit's findings apart).
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8)).astype("float32")
label = (x[:, 0] + x[:, 1] > 0).astype("float32")

# fit 0: Stack Overflow style, healthy: standalone Activation layers, RMSprop() defaults
m = keras.Sequential()
m.add(layers.Dense(50, input_dim=8))
m.add(layers.Activation("relu"))
m.add(layers.Dense(1))
m.add(layers.Activation("sigmoid"))
m.compile(optimizer=keras.optimizers.RMSprop(), loss="binary_crossentropy", metrics=["accuracy"])
m.fit(x, label, epochs=4, batch_size=32, verbose=0)

# fit 1: two parallel heads with a loss list in the outputs' order (regression sigmoid, classes softmax)
inputs = keras.Input((8,))
trunk = layers.Dense(16, activation="relu")(inputs)
priority_hidden = layers.Dense(8)(trunk)  # no activation, feeds the head only: one linear map, a warning at most
priority = layers.Dense(1, activation="sigmoid", name="priority")(priority_hidden)
department = layers.Dense(4, activation="softmax", name="department")(layers.Dense(8)(trunk))
m = keras.Model(inputs, [priority, department])
m.compile(optimizer=keras.optimizers.Adam(0.01), loss=["mse", "sparse_categorical_crossentropy"])
m.fit(x, [label / 2 + 0.25, (x[:, 2] > 0).astype("int32") * 2], epochs=6, batch_size=32, verbose=0)


# fit 2: a custom Layer head ending in a sigmoid Dense, with binary cross-entropy
class Head(layers.Layer):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


inputs = keras.Input((8,))
m = keras.Model(inputs, Head()(layers.Dense(16, activation="relu")(inputs)))
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
m.fit(x, label, epochs=6, batch_size=32, verbose=0)

# fit 3: accuracy on a regression (MSE, linear output) that trains well
target = (3 * x[:, 0] - 2 * x[:, 1]).astype("float32")
m = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["accuracy"])
m.fit(x, target, epochs=6, batch_size=32, verbose=0)

# fit 4: Adam with learning_rate=1.0 and tanh layers: the learning rate, with a value
m = keras.Sequential([keras.Input((8,)), layers.Dense(32, activation="tanh"), layers.Dense(32, activation="tanh"),
                      layers.Dense(1, activation="sigmoid")])
m.compile(optimizer=keras.optimizers.Adam(learning_rate=1.0), loss="binary_crossentropy", metrics=["accuracy"])
m.fit(x, label, epochs=4, batch_size=32, verbose=0)
