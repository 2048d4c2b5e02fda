# keras-io "Text classification with Transformer": a Transformer block and a token-and-position embedding
# written as custom Layers (MultiHeadAttention, Dropout, LayerNormalization inside `call`), in a functional
# model with Dropout after pooling; synthetic token sequences whose label depends on which tokens occur.
import numpy as np
import keras
from keras import layers

from _save import save


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, dropout=rate)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training):  # `training` with no default, as in the keras-io example
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = keras.ops.shape(x)[-1]
        positions = keras.ops.arange(start=0, stop=maxlen, step=1)
        return self.token_emb(x) + self.pos_emb(positions)


keras.utils.set_random_seed(11)
vocab_size, maxlen, embed_dim = 50, 12, 8
rng = np.random.default_rng(0)
x = rng.integers(1, vocab_size, size=(256, maxlen))
y = (np.isin(x, np.arange(1, 10)).sum(axis=1) >= 2).astype("int64")

inputs = layers.Input(shape=(maxlen,))
h = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
h = TransformerBlock(embed_dim, num_heads=2, ff_dim=16)(h)
h = layers.GlobalAveragePooling1D()(h)
h = layers.Dropout(0.1)(h)
h = layers.Dense(8, activation="relu")(h)
h = layers.Dropout(0.1)(h)
outputs = layers.Dense(2, activation="softmax")(h)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=2, validation_split=0.25, verbose=0)
save("model", model, history)
