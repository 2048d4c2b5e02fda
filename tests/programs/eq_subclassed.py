# A keras.Model subclass with its own call (no train_step): the loop probes its output as one node.
import keras
from sklearn.datasets import load_iris

from _save import save

keras.utils.set_random_seed(9)
X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)


class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(10, activation="relu")
        self.drop = keras.layers.Dropout(0.2)
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, inputs, training=False):
        return self.out(self.drop(self.hidden(inputs), training=training))


model = Classifier()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=16, epochs=3, verbose=0)
save("model", model, history)
