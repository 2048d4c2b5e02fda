import keras
from sklearn.datasets import load_wine

X, y = load_wine(return_X_y=True)   # raw features, proline ~1000
X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)

model = keras.Sequential([keras.Input(shape=(13,)), keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(X, y, epochs=10, validation_split=0.2)
