from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Dropout
import numpy as np

x = np.random.rand(100, 8)
y = np.random.randint(0, 2, 100)

model = Sequential()
model.add(Dense(16, activation="relu", input_shape=(8,)))
for units in [16, 8]:
    model.add(Dense(units, activation="relu"))
    model.add(Dropout(0.1))
model.add(Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="sgd")
model.fit(x, y, validation_split=0.2, verbose=0)
