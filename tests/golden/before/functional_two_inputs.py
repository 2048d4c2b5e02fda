import tensorflow as tf

left = tf.keras.Input(shape=(4,), name="left")
right = tf.keras.Input(shape=(3,), name="right")
a = tf.keras.layers.Dense(8, activation="relu")(left)
b = tf.keras.layers.Dense(8, activation="relu")(right)
merged = tf.keras.layers.Concatenate()([a, b])
output = tf.keras.layers.Dense(1)(merged)
model = tf.keras.Model(inputs=[left, right], outputs=output)
model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")

dataset = tf.data.Dataset.from_tensor_slices(((tf.zeros([64, 4]), tf.zeros([64, 3])), tf.zeros([64, 1]))).batch(16)
model.fit(dataset, epochs=2)
