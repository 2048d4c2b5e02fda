import numpy as np
import tensorflow as tf

X = np.load("features.npy")
y = np.load("prices.npy")

normalizer = tf.keras.layers.Normalization()
normalizer.adapt(X)
inputs = tf.keras.Input(shape=(8,))
hidden = tf.keras.layers.Dense(64, activation="relu")(normalizer(inputs))
outputs = tf.keras.layers.Dense(1)(hidden)
model = tf.keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
model.fit(X, y, epochs=20)
