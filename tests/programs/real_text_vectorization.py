# keras-io "Text classification from scratch" (adapted offline: a small synthetic review corpus): a
# TextVectorization layer adapted on the text, applied in a tf.data pipeline, then inside a model that
# takes raw strings.
import numpy as np
import keras
import tensorflow as tf
from keras import layers

from _save import save

keras.utils.set_random_seed(1)
rng = np.random.RandomState(0)
positive = ["great", "good", "wonderful", "fun", "moving", "brilliant", "loved"]
negative = ["bad", "boring", "awful", "dull", "poor", "hated", "weak"]
filler = ["the", "movie", "film", "was", "a", "and", "plot", "acting", "really", "very"]


def review(label):
    words = list(rng.choice(filler, 6)) + list(rng.choice(positive if label else negative, 2))
    rng.shuffle(words)
    return " ".join(words)


labels = rng.randint(2, size=160)
texts = np.array([review(label) for label in labels])
raw_train_ds = tf.data.Dataset.from_tensor_slices((texts[:128], labels[:128])).batch(16)
raw_val_ds = tf.data.Dataset.from_tensor_slices((texts[128:], labels[128:])).batch(16)

max_features = 40
sequence_length = 10
vectorize_layer = layers.TextVectorization(
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)
# Let's make a text-only dataset (no labels) and call adapt on it:
text_ds = raw_train_ds.map(lambda x, y: x)
vectorize_layer.adapt(text_ds)


def vectorize_text(text, label):
    text = tf.expand_dims(text, -1)
    return vectorize_layer(text), label


# Option 2: apply it to the text dataset to obtain a dataset of word indices
train_ds = raw_train_ds.map(vectorize_text).cache().prefetch(buffer_size=10)
val_ds = raw_val_ds.map(vectorize_text).cache().prefetch(buffer_size=10)

inputs = keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(max_features, 8)(inputs)
x = layers.Dropout(0.5)(x)
x = layers.Conv1D(8, 3, padding="valid", activation="relu", strides=1)(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(8, activation="relu")(x)
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
model = keras.Model(inputs, predictions)
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(train_ds, validation_data=val_ds, epochs=2, verbose=0)
save("indices", model, history)

# Option 1: the vectorization inside the model, which then takes raw strings (multi-hot bag of words).
bag = layers.TextVectorization(max_tokens=max_features, output_mode="multi_hot")
bag.adapt(texts[:128])
text_input = keras.Input(shape=(1,), dtype="string")
x = bag(text_input)
x = layers.Dense(8, activation="relu")(x)
end_to_end = keras.Model(text_input, layers.Dense(1, activation="sigmoid")(x))
end_to_end.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
string_ds = raw_train_ds.map(lambda x, y: (tf.expand_dims(x, -1), y))
history = end_to_end.fit(string_ds, epochs=2, verbose=0)
save("strings", end_to_end, history)
