import keras as K


def build_model(n_features):
    inputs = K.Input((n_features,))
    hidden = K.layers.Dense(32, activation="tanh")(inputs)
    outputs = K.layers.Dense(1, activation="sigmoid")(hidden)
    model = K.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main():
    import numpy as np
    x, y = np.zeros((32, 5)), np.zeros(32)
    model = build_model(5)
    early = K.callbacks.EarlyStopping(patience=2)
    return model.fit(x, y, epochs=10, callbacks=[early], validation_data=(x, y))


if __name__ == "__main__":
    main()
