import keras
from keras import ops

inputs = keras.Input(shape=(64,))
ratio = keras.layers.Lambda(lambda t: t[:, :32] / (t[:, 32:] + 1.0))(inputs)
outputs = keras.layers.Dense(10, activation="softmax")(ratio)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(X, y, epochs=5)
