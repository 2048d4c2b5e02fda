import keras

model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0, momentum=0.0), loss="mse")  # too fast
model.fit(X, y, epochs=10)
