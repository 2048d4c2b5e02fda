from keras.models import Sequential
from keras.layers import Activation, Dense
import numpy as np

X, Y = np.load("x.npy"), np.load("y.npy")
model = Sequential()
model.add(Dense(32, input_dim=64))
model.add(Activation("sigmoid"))
for _ in range(7):
    model.add(Dense(32))
    model.add(Activation('sigmoid'))
model.add(Dense(10))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
model.fit(X, Y, epochs=12)
