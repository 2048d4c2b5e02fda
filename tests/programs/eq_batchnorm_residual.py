# MobileNetV2-style inverted residual blocks: a BatchNormalization's output (itself a sum) feeds a residual Add.
# bit-identical
# Grappler folds that sum into the Add's (a + (b + c) -> AddN) only while the Add is its one consumer; a probe
# reading it must not be a second one, or the rounding (and so every weight) differs from fit's in the last bits.
import keras
from keras import layers
from sklearn.datasets import load_digits

from _save import save

keras.utils.set_random_seed(3)
X, y = load_digits(return_X_y=True)
images = (X / 16.0).reshape(-1, 8, 8, 1).astype("float32")

inputs = keras.Input((8, 8, 1))
h = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
h = layers.BatchNormalization()(h)
h = layers.ReLU(6.0)(h)
for _ in range(2):
    branch = layers.Conv2D(16, 1, use_bias=False)(h)
    branch = layers.BatchNormalization()(branch)
    branch = layers.ReLU(6.0)(branch)
    branch = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(branch)
    branch = layers.BatchNormalization()(branch)
    branch = layers.ReLU(6.0)(branch)
    branch = layers.Conv2D(8, 1, use_bias=False)(branch)
    branch = layers.BatchNormalization()(branch)
    h = layers.Add()([h, branch])
h = layers.GlobalAveragePooling2D()(h)
outputs = layers.Dense(10, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(images[:512], y[:512], batch_size=64, epochs=2, verbose=0)
save("residual", model, history)
