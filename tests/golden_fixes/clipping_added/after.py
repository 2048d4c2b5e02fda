import keras

model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)])
opt = keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0)
model.compile(optimizer=opt, loss="mse")
model.fit(X, y, epochs=10)
