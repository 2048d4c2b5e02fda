# Functional API, two inputs, branches joined by Concatenate; shuffle=False, validation_data, sample_weight.
import numpy as np
from tensorflow import keras
from sklearn.datasets import load_breast_cancer

from _save import save

keras.utils.set_random_seed(3)
X, y = load_breast_cancer(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
a, b = X[:, :15], X[:, 15:]
w = np.where(y == 1, 1.0, 2.0)

in_a = keras.Input(shape=(15,), name="a")
in_b = keras.Input(shape=(15,), name="b")
h_a = keras.layers.Dense(8, activation="tanh")(in_a)
h_b = keras.layers.Dense(8, activation="relu")(in_b)
h = keras.layers.Concatenate()([h_a, h_b])
out = keras.layers.Dense(1, activation="sigmoid")(h)
model = keras.Model(inputs=[in_a, in_b], outputs=out)
model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="binary_crossentropy",
              metrics=["accuracy", keras.metrics.AUC()])

history = model.fit(
    [a[:400], b[:400]], y[:400],
    sample_weight=w[:400],
    validation_data=([a[400:], b[400:]], y[400:]),
    batch_size=16, epochs=2, shuffle=False, verbose=0,
)
save("model", model, history)
