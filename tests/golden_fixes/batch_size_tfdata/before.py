import numpy as np
import tensorflow as tf

X, y = np.load("x.npy"), np.load("y.npy")
train_ds = (tf.data.Dataset.from_tensor_slices((X, y))
            .shuffle(2000, seed=1)
            .batch(len(X)))  # the whole set in one batch

model = tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(train_ds, epochs=10, batch_size=64)
