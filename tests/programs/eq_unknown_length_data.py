# Data whose length is unknown until it runs out: a filtered tf.data pipeline and a Python generator.
import numpy as np
import tensorflow as tf
from tensorflow import keras

from _save import save

keras.utils.set_random_seed(8)
rng = np.random.default_rng(8)
x = rng.normal(size=(200, 5)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")

model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
filtered = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: a[0] > -1.0).batch(16)
assert filtered.cardinality() == tf.data.UNKNOWN_CARDINALITY
history = model.fit(filtered, epochs=3, verbose=0)
save("filtered", model, history)


class Batches(keras.utils.PyDataset):
    def __len__(self):
        return 10

    def __getitem__(self, index):
        return x[index * 20:(index + 1) * 20], y[index * 20:(index + 1) * 20]


second = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
second.compile(optimizer="sgd", loss="binary_crossentropy")
history = second.fit(Batches(), epochs=2, verbose=0)
save("pydataset", second, history)
