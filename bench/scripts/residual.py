# Whole-script benchmark: a 20-layer residual convnet (ResNet-20's shape, narrower) on CIFAR-sized synthetic images,
# batch 8 (a steady-state run of 2,000 steps stays about a minute on 2 cores).
# BENCH_STEPS=N: a steady-state run instead (bench/scripts/common.py).
import time

import keras
import numpy as np
from common import Clock, epochs, report

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, size=(256, 32, 32, 3)).astype("float32")
brightness = x[:, :16, :16, 0].mean(axis=(1, 2))  # four classes: the quartile of the top-left corner's red
y = np.digitize(brightness, np.quantile(brightness, [0.25, 0.5, 0.75]))


def block(tensor, filters, stride):
    shortcut = tensor
    tensor = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(tensor)
    tensor = keras.layers.BatchNormalization()(tensor)
    tensor = keras.layers.ReLU()(tensor)
    tensor = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(tensor)
    tensor = keras.layers.BatchNormalization()(tensor)
    if stride != 1:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False)(shortcut)
    return keras.layers.ReLU()(keras.layers.Add()([tensor, shortcut]))


inputs = keras.Input((32, 32, 3))
hidden = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3, padding="same")(inputs)))
for stage, filters in enumerate((8, 16, 32)):
    for index in range(3):
        hidden = block(hidden, filters, 2 if stage and not index else 1)
outputs = keras.layers.Dense(4, activation="softmax")(keras.layers.GlobalAveragePooling2D()(hidden))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
clock = Clock(len(x), 8)
start = time.perf_counter()
model.fit(x, y, batch_size=8, epochs=epochs(len(x), 8, 2), verbose=0, callbacks=[clock])
report([model], time.perf_counter() - start, clock)
