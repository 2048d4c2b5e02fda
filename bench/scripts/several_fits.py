# Whole-script benchmark: several fit calls in one script: a model trained, trained on, then a second model,
# on scikit-learn's breast cancer data (bundled), with a validation split.
import time

import keras
from common import report
from sklearn.datasets import load_breast_cancer

keras.utils.set_random_seed(0)
x, y = load_breast_cancer(return_X_y=True)
x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
y = y.astype("float32")


def build(units):
    model = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


start = time.perf_counter()
first = build(32)
first.fit(x, y, batch_size=16, epochs=10, validation_split=0.2, verbose=0)
first.fit(x, y, batch_size=16, epochs=10, validation_split=0.2, verbose=0)
second = build(64)
second.fit(x, y, batch_size=16, epochs=15, verbose=0)
report([first, second], time.perf_counter() - start)
