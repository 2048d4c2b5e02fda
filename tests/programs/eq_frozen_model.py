# Every layer frozen (`trainable = False`): Keras's train_step makes no optimizer step and warns; the loop
# must do the same (no crash in apply_gradients, the optimizer's iterations stay 0), and History matches.
import numpy as np
import keras
from sklearn.datasets import load_iris

from _save import save

keras.utils.set_random_seed(6)
X, y = load_iris(return_X_y=True)
X = ((X - X.mean(0)) / X.std(0)).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
for layer in model.layers:
    layer.trainable = False
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=16, epochs=2, validation_split=0.2, verbose=0)
assert int(model.optimizer.iterations) == 0
save("model", model, history)
