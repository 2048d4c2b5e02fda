# Metric OBJECTS in one module-level list, passed to several compile calls (TensorFlow's imbalanced-data
# tutorial): Keras's fit does not reset them before the first epoch of a later model (its compiled metrics
# are built only when the first step is traced), so History carries the earlier state; the loop must too.
import numpy as np
import keras
from sklearn.datasets import load_breast_cancer

from _save import save

keras.utils.set_random_seed(5)
X, y = load_breast_cancer(return_X_y=True)
X = ((X - X.mean(0)) / X.std(0)).astype("float32")
y = y.reshape(-1, 1).astype("float32")

METRICS = [
    keras.metrics.BinaryCrossentropy(name="cross_entropy"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.AUC(name="auc"),
]


def make_model(bias=None):
    model = keras.Sequential([
        keras.Input((30,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid",
                           bias_initializer=None if bias is None else keras.initializers.Constant(bias)),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=METRICS)
    return model


first = make_model()
history = first.fit(X, y, batch_size=64, epochs=2, verbose=0)
save("first", first, history)
first.evaluate(X[:100], y[:100], verbose=0)

second = make_model(bias=np.log(y.mean() / (1 - y.mean())))
history = second.fit(X, y, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
save("second", second, history)
