from keras.models import Sequential
from keras.layers import Dense
from sklearn.linear_model import LogisticRegression
import numpy as np

x, y = np.zeros((20, 3)), np.zeros(20)

baseline = LogisticRegression()
baseline.fit(x, y)  # scikit-learn: not Keras, left alone

for lr in (0.1, 0.01):
    net = Sequential([Dense(1, input_shape=(3,))])
    net.compile(loss="mse", optimizer="sgd")
    net.fit(x, y, epochs=1)
    net.fit(x, y, epochs=1, initial_epoch=0)
