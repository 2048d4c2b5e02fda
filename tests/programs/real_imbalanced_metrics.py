# TensorFlow tutorial "Classification on imbalanced data": one module-level list of metric OBJECTS shared
# by every model's compile; a baseline, a model with an initial output bias, and a class-weighted model.
import numpy as np
import keras
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from _save import save

keras.utils.set_random_seed(42)
features, labels = load_breast_cancer(return_X_y=True)
labels = 1 - labels  # malignant (the minority) is the positive class
order = np.random.RandomState(0).permutation(len(labels))
features, labels = features[order], labels[order]
train_features = StandardScaler().fit_transform(features[:400]).astype("float32")
train_labels = labels[:400, None].astype("float32")
val_features = StandardScaler().fit_transform(features[400:]).astype("float32")
val_labels = labels[400:, None].astype("float32")

METRICS = [
    keras.metrics.BinaryCrossentropy(name="cross entropy"),  # same as model's loss
    keras.metrics.MeanSquaredError(name="Brier score"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.BinaryAccuracy(name="accuracy"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
    keras.metrics.AUC(name="auc"),
    keras.metrics.AUC(name="prc", curve="PR"),  # precision-recall curve
]


def make_model(metrics=METRICS, output_bias=None):
    if output_bias is not None:
        output_bias = keras.initializers.Constant(output_bias)
    model = keras.Sequential([
        keras.Input(shape=(train_features.shape[-1],)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1, activation="sigmoid", bias_initializer=output_bias),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.BinaryCrossentropy(), metrics=metrics)
    return model


EPOCHS = 2
BATCH_SIZE = 64

model = make_model()
baseline_history = model.fit(train_features, train_labels, batch_size=BATCH_SIZE, epochs=EPOCHS,
                             validation_data=(val_features, val_labels), verbose=0)
save("baseline", model, baseline_history)

neg, pos = np.bincount(train_labels[:, 0].astype(int))
initial_bias = np.log([pos / neg])
model = make_model(output_bias=initial_bias)
careful_bias_history = model.fit(train_features, train_labels, batch_size=BATCH_SIZE, epochs=EPOCHS,
                                 validation_data=(val_features, val_labels), verbose=0)
save("initial_bias", model, careful_bias_history)

total = neg + pos
class_weight = {0: (1 / neg) * (total / 2.0), 1: (1 / pos) * (total / 2.0)}
weighted_model = make_model()
weighted_history = weighted_model.fit(train_features, train_labels, batch_size=BATCH_SIZE, epochs=EPOCHS,
                                      validation_data=(val_features, val_labels),
                                      class_weight=class_weight, verbose=0)
save("weighted", weighted_model, weighted_history)
