# tf.data input (dataset shuffled with a seed), validation dataset, model from a builder function.
import tensorflow as tf
from sklearn.datasets import load_wine

from _save import save

tf.keras.utils.set_random_seed(11)
X, y = load_wine(return_X_y=True)
X = ((X - X.mean(0)) / X.std(0)).astype("float32")


def build_model(n_classes):
    model = tf.keras.models.Sequential()
    model.add(tf.keras.layers.Dense(16, activation="relu", input_shape=(13,)))
    model.add(tf.keras.layers.Dense(n_classes, activation="softmax"))
    model.compile(optimizer=tf.keras.optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


train = tf.data.Dataset.from_tensor_slices((X[:140], y[:140])).shuffle(140, seed=1).batch(20)
val = tf.data.Dataset.from_tensor_slices((X[140:], y[140:])).batch(20)
model = build_model(3)
history = model.fit(train, validation_data=val, epochs=3, verbose=0)
save("model", model, history)
