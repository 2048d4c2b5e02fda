# Mixed precision: float16 compute, float32 weights, and the LossScaleOptimizer that compile() adds. Its
# initial scale is so large that the first steps overflow and are skipped on purpose, as the optimizer does.
import keras
from sklearn.datasets import load_breast_cancer

from _save import save

keras.mixed_precision.set_global_policy("mixed_float16")
keras.utils.set_random_seed(3)
X, y = load_breast_cancer(return_X_y=True)
X = ((X - X.mean(0)) / X.std(0)).astype("float32")

model = keras.Sequential([
    keras.Input((30,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
])
optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3), initial_scale=2.0 ** 40)
model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=32, epochs=3, verbose=0)
save("model", model, history)
