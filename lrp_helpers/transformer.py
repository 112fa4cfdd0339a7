"""A small transformer text classifier (notebook 10): token and position embeddings, pre-LayerNorm encoder
blocks (multi-head self-attention, a GELU MLP, residual connections), a final LayerNorm, the mean over the
message's tokens, and two centred logits, as notebook 09's CNN has.

Every block computes, on the token vectors x (N, length, dims) with padding masked out of the attention:

    h  = x + Attention(LayerNorm₁(x))          # Keras's MultiHeadAttention, queries = keys = values
    x′ = h + W₂ GELU(W₁ LayerNorm₂(h) + b₁) + b₂

The layers are Keras's own (MultiHeadAttention, LayerNormalization, Dense) inside three small layers of this
module, so a saved model loads anywhere the package is imported.
"""

from __future__ import annotations

import tensorflow as tf

from .text import PADDING_ID

LENGTH = 256  # tokens per message the transformer sees
NORM_EPSILON = 1e-5  # LayerNorm's ε


def _not_padding(ids):
    return tf.not_equal(ids, PADDING_ID)


@tf.keras.utils.register_keras_serializable(package="lrp_helpers")
class TokenAndPosition(tf.keras.layers.Layer):
    """x = E[token id] + P[position]: one learned vector per word and one per position."""

    def __init__(self, vocabulary_size: int, length: int, dims: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.length, self.dims = vocabulary_size, length, dims

    def build(self, input_shape):
        initial = tf.keras.initializers.RandomNormal(stddev=0.02)
        self.tokens = self.add_weight(name="tokens", shape=(self.vocabulary_size, self.dims), initializer=initial)
        self.positions = self.add_weight(name="positions", shape=(self.length, self.dims), initializer=initial)
        super().build(input_shape)

    def call(self, ids):
        return tf.gather(self.tokens, ids) + self.positions[None, : tf.shape(ids)[1]]

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "length": self.length, "dims": self.dims}


@tf.keras.utils.register_keras_serializable(package="lrp_helpers")
class EncoderBlock(tf.keras.layers.Layer):
    """One pre-LayerNorm encoder block (module doc); called on [token vectors, token ids]: padding ids are
    masked out of the attention's keys."""

    def __init__(self, dims: int, heads: int, hidden: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dims, self.heads, self.hidden, self.dropout_rate = dims, heads, hidden, dropout
        layers = tf.keras.layers
        self.norm1 = layers.LayerNormalization(epsilon=NORM_EPSILON, name="norm1")
        self.attention = layers.MultiHeadAttention(heads, key_dim=dims // heads, name="attention")
        self.norm2 = layers.LayerNormalization(epsilon=NORM_EPSILON, name="norm2")
        self.mlp_in = layers.Dense(hidden, activation="gelu", name="mlp_in")
        self.mlp_out = layers.Dense(dims, name="mlp_out")
        self.dropout = layers.Dropout(dropout)

    def call(self, inputs, training=None):
        x, ids = inputs
        keys = _not_padding(ids)[:, None, :]  # (N, 1, length): every query may attend to every real token
        u = self.norm1(x)
        h = x + self.dropout(self.attention(u, u, attention_mask=keys, training=training), training=training)
        return h + self.dropout(self.mlp_out(self.mlp_in(self.norm2(h))), training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "dims": self.dims,
            "heads": self.heads,
            "hidden": self.hidden,
            "dropout": self.dropout_rate,
        }


@tf.keras.utils.register_keras_serializable(package="lrp_helpers")
class MaskedMean(tf.keras.layers.Layer):
    """The mean of the token vectors over the message's real tokens (padding left out); called on
    [token vectors, token ids]."""

    def call(self, inputs):
        x, ids = inputs
        weights = tf.cast(_not_padding(ids), x.dtype)[..., None]
        return tf.reduce_sum(x * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


def text_transformer(
    vocabulary_size: int, length: int = LENGTH, dims: int = 64, heads: int = 2, hidden: int = 128, blocks: int = 2,
    dropout: float = 0.1,
) -> tf.keras.Model:  # fmt: skip
    """Token ids (N, length), 0 = padding -> two class probabilities (ham, spam); layers named `embedding`,
    `block1`, `block2`, ..., `final_norm`, `pool`, `logits`, `softmax`."""
    layers = tf.keras.layers
    ids = tf.keras.Input(shape=(length,), dtype="int32", name="token_ids")
    x = TokenAndPosition(vocabulary_size, length, dims, name="embedding")(ids)
    for number in range(1, blocks + 1):
        x = EncoderBlock(dims, heads, hidden, dropout, name=f"block{number}")([x, ids])
    x = layers.LayerNormalization(epsilon=NORM_EPSILON, name="final_norm")(x)
    x = MaskedMean(name="pool")([x, ids])
    logits = layers.Dense(2, name="logits")(x)
    return tf.keras.Model(ids, layers.Activation("softmax", name="softmax")(logits), name="text_transformer")
