# keras-io "Image segmentation with a U-Net-like architecture" (adapted offline: 16x16 synthetic shapes and
# their masks): downsampling and upsampling blocks with residuals, a functional graph, a tf.data pipeline.
import numpy as np
import keras
import tensorflow as tf
from keras import layers

from _save import save

keras.utils.set_random_seed(37)
img_size = (16, 16)
num_classes = 3
rng = np.random.RandomState(0)
images = rng.uniform(0, 0.2, size=(96, 16, 16, 1)).astype("float32")
masks = np.zeros((96, 16, 16, 1), dtype="int64")
for i in range(96):
    r, c, s = rng.randint(0, 10), rng.randint(0, 10), rng.randint(3, 6)
    cls = 1 + i % 2
    images[i, r:r + s, c:c + s, 0] += 0.5 * cls
    masks[i, r:r + s, c:c + s, 0] = cls
train_ds = tf.data.Dataset.from_tensor_slices((images[:80], masks[:80])).batch(16)
val_ds = tf.data.Dataset.from_tensor_slices((images[80:], masks[80:])).batch(16)


def get_model(img_size, num_classes):
    inputs = keras.Input(shape=img_size + (1,))

    ### [First half of the network: downsampling inputs] ###

    # Entry block
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    # Blocks 1, 2 are identical apart from the feature depth.
    for filters in [8, 16]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    ### [Second half of the network: upsampling inputs] ###

    for filters in [16, 8]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.UpSampling2D(2)(x)

        # Project residual
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    # Add a per-pixel classification layer
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(
        layers.UpSampling2D(2)(x) if x.shape[1] < img_size[0] else x
    )

    # Define the model
    model = keras.Model(inputs, outputs)
    return model


# Build model
model = get_model(img_size, num_classes)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
history = model.fit(train_ds, epochs=2, validation_data=val_ds, verbose=0)
save("unet", model, history)
