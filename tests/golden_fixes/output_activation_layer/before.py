from keras.models import Sequential
from keras.layers import Activation, Dense
import numpy as np

X, y = np.load("x.npy"), np.load("y.npy")
model = Sequential()
model.add(Dense(32, input_dim=30))
model.add(Activation("relu"))
model.add(Dense(1))
model.add(Activation("softmax"))
model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
model.fit(X, y, epochs=15)
