# Keras guide "The Functional API", multi-input and multi-output models: a ticket ranker with three inputs
# (title, body, tags) and two outputs (priority, department). Compiled once with loss lists, once with dicts.
import numpy as np
import keras
from keras import layers

from _save import save

keras.utils.set_random_seed(7)

num_tags = 12  # Number of unique issue tags
num_words = 100  # Size of vocabulary obtained when preprocessing text data
num_departments = 4  # Number of departments for predictions


def build_ranker():
    title_input = keras.Input(shape=(None,), name="title")  # Variable-length sequence of ints
    body_input = keras.Input(shape=(None,), name="body")  # Variable-length sequence of ints
    tags_input = keras.Input(shape=(num_tags,), name="tags")  # Binary vectors of size `num_tags`

    # Embed each word in the title into a 8-dimensional vector
    title_features = layers.Embedding(num_words, 8)(title_input)
    # Embed each word in the text into a 8-dimensional vector
    body_features = layers.Embedding(num_words, 8)(body_input)

    # Reduce sequence of embedded words in the title into a single 8-dimensional vector
    title_features = layers.LSTM(8)(title_features)
    # Reduce sequence of embedded words in the body into a single 4-dimensional vector
    body_features = layers.LSTM(4)(body_features)

    # Merge all available features into a single large vector via concatenation
    x = layers.concatenate([title_features, body_features, tags_input])

    # Stick a logistic regression for priority prediction on top of the features
    priority_pred = layers.Dense(1, name="priority")(x)
    # Stick a department classifier on top of the features
    department_pred = layers.Dense(num_departments, name="department")(x)

    # Instantiate an end-to-end model predicting both priority and department
    return keras.Model(
        inputs=[title_input, body_input, tags_input],
        outputs=[priority_pred, department_pred],
    )


# Dummy input data
rng = np.random.RandomState(0)
title_data = rng.randint(num_words, size=(96, 6))
body_data = rng.randint(num_words, size=(96, 10))
tags_data = rng.randint(2, size=(96, num_tags)).astype("float32")

# Dummy target data
priority_targets = rng.random_sample(size=(96, 1))
dept_targets = rng.randint(2, size=(96, num_departments))

model = build_ranker()
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.BinaryCrossentropy(from_logits=True),
        keras.losses.CategoricalCrossentropy(from_logits=True),
    ],
    loss_weights=[1.0, 0.2],
)
history = model.fit(
    [title_data, body_data, tags_data],
    [priority_targets, dept_targets],
    epochs=2,
    batch_size=32,
    verbose=0,
)
save("lists", model, history)

# Since the output layers have different names, you could also specify the losses and loss weights with dicts:
model = build_ranker()
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "priority": keras.losses.BinaryCrossentropy(from_logits=True),
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    loss_weights={"priority": 1.0, "department": 0.2},
    metrics={"department": ["accuracy"]},
)
history = model.fit(
    {"title": title_data, "body": body_data, "tags": tags_data},
    {"priority": priority_targets, "department": dept_targets},
    epochs=2,
    batch_size=32,
    validation_split=0.25,
    verbose=0,
)
save("dicts", model, history)
