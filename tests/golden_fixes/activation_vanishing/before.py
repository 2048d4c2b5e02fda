import keras

model = keras.Sequential([keras.Input(shape=(64,))])
for _ in range(8):
    model.add(keras.layers.Dense(32, activation="sigmoid"))
model.add(keras.layers.Dense(10, activation="softmax"))
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(X, y, epochs=10)
