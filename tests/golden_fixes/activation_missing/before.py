import keras

model = keras.Sequential([
    keras.Input(shape=(2,)),
    keras.layers.Dense(16),
    keras.layers.Dense(16, None),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(X, y, epochs=10)
