import keras
import numpy as np
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
order = np.argsort(y)   # sorted by class
X, y = X[order] / 16.0, y[order]

model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=5, validation_split=0.2)
