import keras

base = keras.layers.Dense(32, activation="relu", trainable=True)
head = keras.layers.Dense(10, activation="softmax")
base.trainable = True
model = keras.Sequential([keras.Input(shape=(64,)), base, head])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(X, y, epochs=5)
