# Keras guide "Making new layers and models via subclassing": a Linear layer with its own weights, layers
# with no __init__ of their own (weights made in build, stateless), and an MLP written as a Model subclass.
import keras
from keras import ops
from sklearn.datasets import load_digits

from _save import save

keras.utils.set_random_seed(3)
digits = load_digits()
x_train = (digits.data[:384] / 16.0).astype("float32")
y_train = digits.target[:384]


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class Scale(keras.layers.Layer):  # no __init__ of its own: a learned scalar gain, made in build
    def build(self, input_shape):
        self.gain = self.add_weight(shape=(), initializer="ones", name="gain")

    def call(self, inputs):
        return inputs * self.gain


class Relu(keras.layers.Layer):  # no __init__, no weights
    def call(self, inputs):
        return ops.relu(inputs)


class MLPBlock(keras.Model):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(16)
        self.scale = Scale()
        self.linear_3 = Linear(10)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = ops.relu(x)
        x = self.linear_2(x)
        x = ops.relu(self.scale(x))
        return self.linear_3(x)


# The custom layers in a functional model ...
inputs = keras.Input(shape=(64,))
x = Relu()(Linear(32)(inputs))
x = Scale()(x)
outputs = Linear(10)(x)
functional = keras.Model(inputs, outputs)
functional.compile(
    optimizer=keras.optimizers.SGD(learning_rate=0.1),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)
history = functional.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
save("functional", functional, history)

# ... and in a subclassed model, trained twice.
mlp = MLPBlock()
mlp.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
mlp.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
history = mlp.fit(x_train, y_train, batch_size=64, epochs=2, initial_epoch=1, validation_split=0.25, verbose=0)
save("subclassed", mlp, history)
