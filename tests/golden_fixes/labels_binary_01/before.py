import keras
import numpy as np

X = np.random.default_rng(0).normal(size=(200, 4))
y = np.where(X[:, 0] > 0, 1, -1)   # SVM-style labels
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(X, y, epochs=5)
