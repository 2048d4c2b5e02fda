# A model with its own train_step: left as fit, given the Diagnose callback, trains the same.
# says: StepModel defines its own train_step: fit kept, Diagnose callback attached
import keras
import tensorflow as tf
from sklearn.datasets import load_iris

from _save import save

keras.utils.set_random_seed(1)
X, y = load_iris(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)


class StepModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


inputs = keras.Input((4,))
outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
model = StepModel(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, batch_size=16, epochs=2, verbose=0)
save("model", model, history)
