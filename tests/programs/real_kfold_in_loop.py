# "Deep Learning with Python" (Chollet), K-fold validation for a small regression: the model is rebuilt by
# build_model() in every fold of a loop, then a final model is trained on all the data.
import numpy as np
import keras
from keras import layers

from _save import save

keras.utils.set_random_seed(13)
rng = np.random.RandomState(0)
train_data = rng.normal(size=(150, 13)).astype("float32")
train_targets = (train_data @ rng.normal(size=13) + 22.0 + rng.normal(size=150)).astype("float32")
mean = train_data.mean(axis=0)
train_data -= mean
std = train_data.std(axis=0)
train_data /= std


def build_model():
    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


k = 3
num_val_samples = len(train_data) // k
num_epochs = 2
all_scores = []
for i in range(k):
    print(f"Processing fold #{i}")
    val_data = train_data[i * num_val_samples: (i + 1) * num_val_samples]
    val_targets = train_targets[i * num_val_samples: (i + 1) * num_val_samples]
    partial_train_data = np.concatenate(
        [train_data[:i * num_val_samples],
         train_data[(i + 1) * num_val_samples:]],
        axis=0)
    partial_train_targets = np.concatenate(
        [train_targets[:i * num_val_samples],
         train_targets[(i + 1) * num_val_samples:]],
        axis=0)
    model = build_model()
    history = model.fit(partial_train_data, partial_train_targets,
                        validation_data=(val_data, val_targets),
                        epochs=num_epochs, batch_size=16, verbose=0)
    save(f"fold{i}", model, history)
    val_mse, val_mae = model.evaluate(val_data, val_targets, verbose=0)
    all_scores.append(val_mae)

model = build_model()
history = model.fit(train_data, train_targets, epochs=2, batch_size=16, verbose=0)
save("final", model, history)
