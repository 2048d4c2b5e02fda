# TensorFlow tutorial "Overfit and underfit": every model goes through one helper,
# compile_and_fit(model, name, ...), with a decaying learning rate, a repeated tf.data pipeline and steps.
import numpy as np
import keras
import tensorflow as tf
from keras import layers, regularizers

from _save import save

keras.utils.set_random_seed(9)
FEATURES = 28
N_TRAIN = 384
N_VALIDATION = 128
BATCH_SIZE = 64
STEPS_PER_EPOCH = N_TRAIN // BATCH_SIZE

rng = np.random.RandomState(0)
all_x = rng.normal(size=(N_TRAIN + N_VALIDATION, FEATURES)).astype("float32")
all_y = (all_x[:, :4].sum(axis=1, keepdims=True) + 0.5 * rng.normal(size=(len(all_x), 1)) > 0).astype("float32")
train_ds = tf.data.Dataset.from_tensor_slices((all_x[:N_TRAIN], all_y[:N_TRAIN])).shuffle(N_TRAIN, seed=0).repeat().batch(BATCH_SIZE)
validate_ds = tf.data.Dataset.from_tensor_slices((all_x[N_TRAIN:], all_y[N_TRAIN:])).batch(BATCH_SIZE)

lr_schedule = keras.optimizers.schedules.InverseTimeDecay(0.001, decay_steps=STEPS_PER_EPOCH * 10, decay_rate=1, staircase=False)


def get_optimizer():
    return keras.optimizers.Adam(lr_schedule)


def get_callbacks(name):
    return [keras.callbacks.EarlyStopping(monitor="val_binary_crossentropy", patience=20)]


def compile_and_fit(model, name, optimizer=None, max_epochs=2):
    if optimizer is None:
        optimizer = get_optimizer()
    model.compile(optimizer=optimizer,
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryCrossentropy(from_logits=True, name="binary_crossentropy"), "accuracy"])
    history = model.fit(
        train_ds,
        steps_per_epoch=STEPS_PER_EPOCH,
        epochs=max_epochs,
        validation_data=validate_ds,
        callbacks=get_callbacks(name),
        verbose=0)
    return history


size_histories = {}
tiny_model = keras.Sequential([keras.Input((FEATURES,)), layers.Dense(16, activation="elu"), layers.Dense(1)])
size_histories["Tiny"] = compile_and_fit(tiny_model, "sizes/Tiny")
save("tiny", tiny_model, size_histories["Tiny"])

small_model = keras.Sequential([
    keras.Input((FEATURES,)),
    layers.Dense(16, activation="elu"),
    layers.Dense(16, activation="elu"),
    layers.Dense(1),
])
size_histories["Small"] = compile_and_fit(small_model, "sizes/Small")
save("small", small_model, size_histories["Small"])

regularizer_histories = {}
l2_model = keras.Sequential([
    keras.Input((FEATURES,)),
    layers.Dense(32, activation="elu", kernel_regularizer=regularizers.l2(0.001)),
    layers.Dense(32, activation="elu", kernel_regularizer=regularizers.l2(0.001)),
    layers.Dense(1),
])
regularizer_histories["l2"] = compile_and_fit(l2_model, "regularizers/l2")
save("l2", l2_model, regularizer_histories["l2"])

dropout_model = keras.Sequential([
    keras.Input((FEATURES,)),
    layers.Dense(32, activation="elu"),
    layers.Dropout(0.5),
    layers.Dense(32, activation="elu"),
    layers.Dropout(0.5),
    layers.Dense(1),
])
regularizer_histories["dropout"] = compile_and_fit(dropout_model, "regularizers/dropout", optimizer=keras.optimizers.Adam(1e-3))
save("dropout", dropout_model, regularizer_histories["dropout"])
