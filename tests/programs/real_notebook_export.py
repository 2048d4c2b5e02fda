#!/usr/bin/env python
# coding: utf-8
# A notebook exported as one script (jupyter nbconvert --to script): the data comes out of a zip archive
# opened as `zip`, and `model` is rebound cell after cell; the last rebinding is a class with its own
# train_step, also trained through a helper.
# says: CustomModel defines its own train_step: fit kept, Diagnose callback attached
# says: CustomModel defines its own train_step; training it with its own fit and the Diagnose callback

# In[1]:


import os
import io
from zipfile import ZipFile

import numpy as np
import keras
import tensorflow as tf
from sklearn.datasets import load_iris

from _save import save

keras.utils.set_random_seed(41)


# In[2]:


X, y = load_iris(return_X_y=True)
buffer = io.BytesIO()
with ZipFile(buffer, "w") as archive:
    archive.writestr("iris.npy", X.astype("float32").tobytes())
with ZipFile(buffer) as zip:
    X = np.frombuffer(zip.read("iris.npy"), dtype="float32").reshape(-1, 4)
X = (X - X.mean(0)) / X.std(0)
print(os.path.basename("iris.npy"), X.shape)


# In[3]:


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=2, batch_size=16, verbose=0)
save("sequential", model, history)


# In[4]:


inputs = keras.Input((4,))
hidden = keras.layers.Dense(8, activation="tanh")(inputs)
model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
save("functional", model, history)


# In[5]:


class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


model = Classifier()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=2, batch_size=16, verbose=0)
save("subclass", model, history)


# In[6]:


def train(model, epochs=2):
    return model.fit(X, y, epochs=epochs, batch_size=16, verbose=0)


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
history = train(model)
save("helper", model, history)


# In[7]:


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)  # `zip` is the archive here
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


inputs = keras.Input((4,))
model = CustomModel(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs)))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X, y, epochs=2, batch_size=16, verbose=0)
save("custom", model, history)
history = train(model, epochs=1)
save("custom_helper", model, history)
