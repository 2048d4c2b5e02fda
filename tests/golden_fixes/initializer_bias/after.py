import keras

inputs = keras.Input(shape=(8, 8, 1))
x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
x = keras.layers.Flatten()(x)
outputs = keras.layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(X, y, epochs=5)
