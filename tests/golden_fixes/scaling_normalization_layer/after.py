import keras
import numpy as np

data = np.loadtxt("sensors.csv", delimiter=",")
X, y = data[:, :-1], data[:, -1]

# raw readings: pressure in Pa, rpm, temperatures
normalizer = keras.layers.Normalization()
normalizer.adapt(X)
model = keras.Sequential([
    keras.Input(shape=(12,)),
    normalizer,
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(X, y, epochs=10, batch_size=32)
