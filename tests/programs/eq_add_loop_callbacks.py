# Sequential() + .add in a loop, EarlyStopping and a user callback, initial_epoch, steps_per_epoch on a repeated dataset.
import keras as K
import tensorflow as tf
from sklearn.datasets import load_iris

from _save import save

K.utils.set_random_seed(5)
X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
Y = K.utils.to_categorical(y, 3)


class CountBatches(K.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


model = K.models.Sequential()
model.add(K.Input(shape=(4,)))
for units in (16, 8):
    model.add(K.layers.Dense(units, activation="relu"))
model.add(K.layers.Dense(3, activation="softmax"))
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

counter = CountBatches()
stop = K.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)  # stops after 2 epochs
data = tf.data.Dataset.from_tensor_slices((X.astype("float32"), Y)).repeat().batch(16)
history = model.fit(data, epochs=6, initial_epoch=1, steps_per_epoch=5, callbacks=[counter, stop], verbose=0)
assert counter.batches == 10, counter.batches
save("model", model, history)
