from keras.models import Sequential
from keras.layers import Conv2D, Dense, Flatten, Rescaling
import numpy as np

images = np.load("images.npy")  # uint8 pixels, 0..255
labels = np.load("labels.npy")

model = Sequential()
model.add(Rescaling(1 / 255.0, input_shape=(28, 28, 1)))
model.add(Conv2D(8, 3, activation="relu"))
model.add(Flatten())
model.add(Dense(10, activation="softmax"))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=5, validation_split=0.1)
