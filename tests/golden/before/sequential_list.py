"""Train a small classifier on the digits (a Sequential given as a list)."""
from __future__ import annotations

import keras
from keras import layers
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
X = X / 16.0   # scale pixels to [0, 1]

# three dense layers
model = keras.Sequential([
    keras.Input(shape=(64,)),
    layers.Dense(32, activation='relu'),
    layers.Dense(10, activation='softmax'),
])
model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',   # integer labels
              metrics=['accuracy'])

history = model.fit(
    X, y,
    epochs=5,      # a few epochs
    batch_size=64,
)
print(history.history['accuracy'][-1])
