# "Save and load models", weights only: save_weights / load_weights into a freshly built model (with a
# custom layer that has no __init__ of its own), then fine-tune the restored model.
import keras
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from _save import save

keras.utils.set_random_seed(5)
X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X).astype("float32")


class Gain(keras.layers.Layer):  # no __init__ of its own
    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, inputs):
        return inputs * self.gain


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(13,)),
        Gain(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


model = build_model()
history = model.fit(X, y, batch_size=16, epochs=2, validation_split=0.2, verbose=0)
save("trained", model, history)
model.save_weights("wine.weights.h5")

restored = build_model()
restored.load_weights("wine.weights.h5")
history = restored.fit(X, y, batch_size=16, epochs=2, verbose=0)
save("fine_tuned", restored, history)
