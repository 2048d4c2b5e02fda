# keras-io "Structured data classification" / TF tutorial "Basic regression" style: a Normalization layer
# adapted on the training features, a shuffled tf.data pipeline, then a fine-tuning fit at a lower rate.
import numpy as np
import keras
import tensorflow as tf
from sklearn.datasets import load_wine

from _save import save

keras.utils.set_random_seed(21)
features, target = load_wine(return_X_y=True)
features = features.astype("float32")
order = np.random.RandomState(1).permutation(len(target))
features, target = features[order], target[order]
train_x, val_x = features[:140], features[140:]
train_y, val_y = target[:140], target[140:]

normalizer = keras.layers.Normalization(axis=-1)
normalizer.adapt(train_x)


def dataframe_to_dataset(x, y, shuffle=True, batch_size=16):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(buffer_size=len(x), seed=3, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


train_ds = dataframe_to_dataset(train_x, train_y)
val_ds = dataframe_to_dataset(val_x, val_y, shuffle=False)

inputs = keras.Input(shape=(13,))
x = normalizer(inputs)
x = keras.layers.Dense(32, activation="relu")(x)
x = keras.layers.Dropout(0.3)(x)
outputs = keras.layers.Dense(3, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0)
save("first", model, history)

# Fine-tune at a lower learning rate.
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0)
save("fine_tuned", model, history)
