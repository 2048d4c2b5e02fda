# Two fit calls in one file: a small convnet on the 8x8 digits, then an LSTM over masked sequences.
import numpy as np
import keras
from keras import layers
from sklearn.datasets import load_digits

from _save import save

keras.utils.set_random_seed(2)
X, y = load_digits(return_X_y=True)
images = (X / 16.0).reshape(-1, 8, 8, 1)

convnet = keras.Sequential([
    keras.Input((8, 8, 1)),
    layers.Conv2D(8, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(10, activation="softmax"),
])
convnet.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
conv_history = convnet.fit(images[:600], y[:600], batch_size=64, epochs=2, verbose=0)
save("convnet", convnet, conv_history)

rng = np.random.default_rng(0)
tokens = rng.integers(1, 20, size=(300, 12))
tokens[:, 9:] = 0  # padding, masked by the Embedding
labels = (tokens[:, 0] > 10).astype("float32")
rnn = keras.Sequential([
    keras.Input((12,), dtype="int32"),
    layers.Embedding(20, 8, mask_zero=True),
    layers.LSTM(8),
    layers.Dense(1, activation="sigmoid"),
])
rnn.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
rnn_history = rnn.fit(tokens, labels, batch_size=32, epochs=2, validation_split=0.2, verbose=0)
save("rnn", rnn, rnn_history)
