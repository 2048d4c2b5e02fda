import dnn_instrument.runtime.origins  # dnn-instrument: instrumented copy of fallback_callback.py; regenerate, do not edit
dnn_instrument.runtime.origins.watch(__file__, 'fallback_callback.py', inserted=[(1, 2)])  # original: sha256 f3eacfdea53d796e; dnn-instrument --strip restores it
import keras
import tensorflow as tf
from my_models import make_model  # defined elsewhere: its origin cannot be followed


class CustomStep(keras.Model):
    def train_step(self, data):
        return super().train_step(data)


inputs = keras.Input((2,))
custom = CustomStep(inputs, keras.layers.Dense(1)(inputs))
custom.compile(loss="mse")
dnn_instrument.runtime.diagnosed(custom.fit, 'fallback_callback.py:14')(tf.zeros([8, 2]), tf.zeros([8, 1]), callbacks=[keras.callbacks.TerminateOnNaN()])

other = make_model()
other.compile(optimizer="adam", loss="mse")
stop = [keras.callbacks.EarlyStopping()]
dnn_instrument.runtime.diagnosed(other.fit, 'fallback_callback.py:19')(tf.zeros([8, 2]), tf.zeros([8, 1]), callbacks=stop)
dnn_instrument.runtime.diagnosed(other.fit, 'fallback_callback.py:20')(
    tf.zeros([8, 2]),
    tf.zeros([8, 1]),
    epochs=2,
)
