# compile(run_eagerly=True): Keras runs its step uncompiled, and so does the generated loop.
import keras
from sklearn.datasets import load_iris

from _save import save

keras.utils.set_random_seed(12)
X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)

model = keras.Sequential([
    keras.Input((4,)),
    keras.layers.Dense(8, activation="tanh"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
history = model.fit(X, y, batch_size=32, epochs=2, validation_split=0.2, verbose=0)
save("model", model, history)
