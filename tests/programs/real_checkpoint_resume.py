# TensorFlow tutorial "Save and load models": train with a ModelCheckpoint writing .keras files, save the
# whole model, load it back and continue training; also resume from the last checkpoint.
import os

import keras
from sklearn.datasets import load_digits

from _save import save

keras.utils.set_random_seed(11)
digits = load_digits()
train_images = (digits.data[:320] / 16.0).astype("float32")
train_labels = digits.target[:320]
test_images = (digits.data[320:400] / 16.0).astype("float32")
test_labels = digits.target[320:400]


# Define a simple sequential model
def create_model():
    model = keras.Sequential([
        keras.Input(shape=(64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model


checkpoint_dir = "training_1"
os.makedirs(checkpoint_dir, exist_ok=True)
checkpoint_path = os.path.join(checkpoint_dir, "cp-{epoch:02d}.keras")

# Create a callback that saves the model after every epoch
cp_callback = keras.callbacks.ModelCheckpoint(filepath=checkpoint_path, verbose=0)

model = create_model()
history = model.fit(train_images, train_labels, epochs=2, batch_size=32,
                    validation_data=(test_images, test_labels),
                    callbacks=[cp_callback], verbose=0)  # Pass callback to training
save("first", model, history)

# Save the entire model as a `.keras` zip archive, reload it and continue training.
model.save("my_model.keras")
new_model = keras.models.load_model("my_model.keras")
history = new_model.fit(train_images, train_labels, epochs=1, batch_size=32, verbose=0)
save("reloaded", new_model, history)

# Resume from the checkpoint of the second epoch.
resumed = keras.models.load_model(os.path.join(checkpoint_dir, "cp-02.keras"))
history = resumed.fit(train_images, train_labels, initial_epoch=2, epochs=3, batch_size=32, verbose=0)
save("resumed", resumed, history)
