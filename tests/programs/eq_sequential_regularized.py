# Sequential list, Dropout + BatchNormalization + L2, validation_split, class_weight, shuffle (default).
import keras
from keras import layers
from sklearn.datasets import load_digits

from _save import save

keras.utils.set_random_seed(7)
X, y = load_digits(return_X_y=True)
X = X / 16.0

model = keras.Sequential([
    keras.Input(shape=(64,)),
    layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3)),
    layers.Dropout(0.3),
    layers.BatchNormalization(),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
weights = {c: 1.0 + 0.1 * c for c in range(10)}
history = model.fit(X, y, epochs=3, batch_size=50, validation_split=0.25, class_weight=weights, verbose=0)
save("model", model, history)
