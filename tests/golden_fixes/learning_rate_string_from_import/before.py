from keras.models import Sequential
from keras.layers import Dense, Input
from keras.optimizers import Adam

model = Sequential([Input(shape=(8,)), Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(X, y, epochs=10)
