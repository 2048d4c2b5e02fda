# A Sequential with no Input and no input_shape, as many posts write it: Keras builds it inside fit.
from keras.models import Sequential
from keras.layers import Dense, Dropout
from keras.utils import set_random_seed
from sklearn.datasets import load_wine

from _save import save

set_random_seed(21)
X, y = load_wine(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)

model = Sequential([
    Dense(16, activation="relu"),
    Dropout(0.25),
    Dense(3, activation="softmax"),
])
model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
history = model.fit(X, y, epochs=3, batch_size=8, validation_split=0.1, verbose=0)
save("model", model, history)
