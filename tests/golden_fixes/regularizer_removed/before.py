import keras
from keras import regularizers

model = keras.Sequential([
    keras.Input(shape=(30,)),
    keras.layers.Dense(16, activation="relu", kernel_regularizer=regularizers.l2(10.0)),
    keras.layers.Dense(8, activation="relu", kernel_regularizer=regularizers.l2(10.0), use_bias=True),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(X, y, epochs=10)
