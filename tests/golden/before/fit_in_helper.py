# The tutorial's helper: every model passes through one function. Its parameter is known only at run
# time, where the loop checks that it can train the object it gets (else fit runs, with the callback).
import keras
import numpy as np

x, y = np.zeros((32, 4)), np.zeros((32, 1))


def compile_and_fit(model, name, max_epochs=2):
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=max_epochs, verbose=0)
    return history


def fit_quietly(net):
    return net.fit(x, y, batch_size=8, epochs=1, verbose=0)


def train_classifier(clf, features, labels):
    clf.fit(features, labels)  # nothing says Keras: left alone


size_histories = {}
size_histories["tiny"] = compile_and_fit(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), "tiny")
size_histories["small"] = compile_and_fit(keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)]), "small")
