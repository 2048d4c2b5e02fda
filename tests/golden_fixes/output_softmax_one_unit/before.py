import keras
from keras.layers import Dense

model = keras.Sequential()
model.add(keras.Input(shape=(30,)))
model.add(Dense(16, activation='relu'))   # hidden
model.add(Dense(1, activation='softmax'))  # one probability
model.compile(optimizer="adam", loss='binary_crossentropy', metrics=["accuracy"])
model.fit(X, y, epochs=5)
