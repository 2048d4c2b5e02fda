# A notebook exported as one script: `model` is rebound cell after cell. Each fit trains the model bound
# last before it; the late rebinding to a model with its own train_step decides only the fit after it.
import keras
import numpy as np
import tensorflow as tf

x, y = np.zeros((32, 4)), np.zeros((32, 1))

# In[1]:
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1)

# In[2]:
inputs = keras.Input((4,))
model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1)

# In[3]:
if x.shape[0] > 16:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1)


# In[4]:
class CustomModel(keras.Model):
    def train_step(self, data):
        return super().train_step(data)


model = CustomModel(inputs, keras.layers.Dense(1)(inputs))
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=1)
