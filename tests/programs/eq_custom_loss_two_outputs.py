# Functional model with two outputs, a custom loss function, loss_weights, metric objects.
import keras
import numpy as np
from keras.layers import Dense, Input
from keras.models import Model

from _save import save

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)
x = rng.normal(size=(256, 6)).astype("float32")
y_reg = (x[:, :1] * 2.0 - x[:, 1:2]).astype("float32")
y_cls = (x[:, 2] > 0).astype("float32")


def huberish(y_true, y_pred):
    error = y_true - y_pred
    return keras.ops.mean(keras.ops.log(keras.ops.cosh(error)), axis=-1)


inputs = Input(shape=(6,))
hidden = Dense(12, activation="relu")(inputs)
regression = Dense(1, name="value")(hidden)
classification = Dense(1, activation="sigmoid", name="label")(hidden)
model = Model(inputs, [regression, classification])
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
    loss={"value": huberish, "label": "binary_crossentropy"},
    loss_weights={"value": 0.5, "label": 2.0},
    metrics={"value": [keras.metrics.MeanAbsoluteError()], "label": ["accuracy"]},
)
history = model.fit(x, {"value": y_reg, "label": y_cls}, batch_size=32, epochs=2, validation_split=0.2, verbose=0)
save("model", model, history)
