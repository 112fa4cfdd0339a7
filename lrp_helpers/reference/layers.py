"""The reference's layers: a forward pass each, and for linear layers the transposed pass (`backward`) the
rules use in step 3; residual connections (`Residual`); the backward pass through a list of layers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import conditions, rules
from .relevance import _safe_divide, implementation

# ---------------------------------------------------------------------------------------------
# Layers: a forward pass, and for linear layers the transposed pass ("backward") used in step 3.
# ---------------------------------------------------------------------------------------------


class Layer:
    name: str = ""
    has_weights = False

    def forward(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def relevance(self, a: np.ndarray, R: np.ndarray) -> np.ndarray:
        """The relevance of the input, given R at the output: passed on unchanged (ReLU, Dropout), in the
        input's shape (Flatten). Layers that route relevance (pooling, embeddings) say how."""
        return R.reshape(a.shape)

    def propagate(self, a, R, composite, record) -> np.ndarray:
        """One step of the backward pass; `record` collects the relevance at the output of inner layers."""
        return self.relevance(a, R)


class Linear(Layer):
    """A layer z = apply(a, weight, bias), linear in `a`; `backward` is its transpose.

    Rules call `apply` and `backward` with modified weights (w+, w**2, ...); `forward` uses the
    layer's own weight and bias.
    """

    weight: np.ndarray
    bias: np.ndarray
    has_weights = True

    def forward(self, a):
        return self.apply(a, self.weight, self.bias)

    def propagate(self, a, R, composite, record):
        return implementation(composite.rule_for(self.name, self.kind)).relevance(self, a, R)

    def apply(self, a, weight, bias=None):
        raise NotImplementedError

    def backward(self, s, weight):
        raise NotImplementedError


@dataclass(eq=False)
class Dense(Linear):
    weight: np.ndarray  # (inputs, outputs)
    bias: np.ndarray
    name: str = "dense"
    kind = rules.DENSE

    def apply(self, a, weight, bias=None):
        out = a @ weight
        return out if bias is None else out + bias

    def backward(self, s, weight):
        return s @ weight.T


@dataclass(eq=False)
class Conv2D(Linear):
    """2-D convolution, stride 1, 'same' zero padding, NHWC (as Keras' Conv2D(padding='same')).

    The bias is one value per output channel, or a map (H, W, out_channels) that depends on the
    position: what a BatchNorm merged into the convolution leaves (`lrp_helpers.canonize`).
    """

    weight: np.ndarray  # (kh, kw, in_channels, out_channels)
    bias: np.ndarray
    name: str = "conv"
    kind = rules.CONV

    def _padding(self):
        kh, kw = self.weight.shape[:2]
        return ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0))

    def apply(self, a, weight, bias=None):
        kh, kw, cin, cout = weight.shape
        padded = np.pad(a, self._padding())
        patches = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
        # patches: (N, H, W, C_in, kh, kw) -> (N, H, W, kh*kw*C_in) in the kernel's order
        patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(*a.shape[:3], kh * kw * cin)
        out = patches @ weight.reshape(-1, cout)
        return out if bias is None else out + bias

    def backward(self, s, weight):
        kh, kw, cin, _ = weight.shape
        n, h, w, _ = s.shape
        per_patch = (s @ weight.reshape(-1, weight.shape[3]).T).reshape(n, h, w, kh, kw, cin)
        (_, _), (top, _), (left, _), _ = self._padding()
        padded = np.zeros((n, h + kh - 1, w + kw - 1, cin))
        for dy in range(kh):
            for dx in range(kw):
                padded[:, dy : dy + h, dx : dx + w, :] += per_patch[:, :, :, dy, dx, :]
        return padded[:, top : top + h, left : left + w, :]


@dataclass(eq=False)
class ChannelAffine(Linear):
    """BatchNormalization at inference: y = scale * x + shift, one scale and shift per channel.

    scale = gamma / sqrt(moving_variance + epsilon), shift = beta - moving_mean * scale.
    It is a linear layer whose weight matrix is diagonal, so every rule applies to it.
    """

    weight: np.ndarray  # the per-channel scale
    bias: np.ndarray  # the per-channel shift
    name: str = "batchnorm"
    kind = rules.BATCHNORM

    @classmethod
    def from_batchnorm(cls, gamma, beta, mean, variance, epsilon, name="batchnorm"):
        scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(variance, np.float64) + epsilon)
        return cls(scale, np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale, name)

    def apply(self, a, weight, bias=None):
        out = a * weight
        return out if bias is None else out + bias

    def backward(self, s, weight):
        return s * weight


@dataclass(eq=False)
class ReLU(Layer):
    name: str = "relu"

    def forward(self, a):
        return np.maximum(a, 0)


@dataclass(eq=False)
class Identity(Layer):
    """Dropout at inference, or any layer that passes its input through."""

    name: str = "identity"

    def forward(self, a):
        return a


@dataclass(eq=False)
class Flatten(Layer):
    name: str = "flatten"

    def forward(self, a):
        return a.reshape(len(a), -1)


@dataclass(eq=False)
class MaxPool2D(Layer):
    """Non-overlapping max-pooling. Relevance goes to the window's first maximum in row-major
    order, the position TensorFlow's max-pool gradient picks when values tie."""

    size: int = 2
    name: str = "maxpool"

    def _windows(self, a):
        n, h, w, c = a.shape
        k = self.size
        blocks = a[:, : h - h % k, : w - w % k].reshape(n, h // k, k, w // k, k, c)
        return blocks.transpose(0, 1, 3, 5, 2, 4).reshape(n, h // k, w // k, c, k * k)

    def forward(self, a):
        return self._windows(a).max(axis=-1)

    def relevance(self, a, R):
        n, h, w, c = a.shape
        k = self.size
        windows = self._windows(a)
        winner = windows.argmax(axis=-1)  # np.argmax returns the first maximum
        spread = np.zeros_like(windows)
        np.put_along_axis(spread, winner[..., None], R[..., None], axis=-1)
        spread = spread.reshape(n, h // k, w // k, c, k, k).transpose(0, 1, 4, 2, 5, 3)
        out = np.zeros_like(a)
        out[:, : h - h % k, : w - w % k] = spread.reshape(n, h - h % k, w - w % k, c)
        return out


# ---------------------------------------------------------------------------------------------
# Sequence layers (text, notebook 09): an embedding lookup in front, 1-D convolution, global
# max-pooling over the sequence.
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Embedding(Layer):
    """A lookup of one vector per token id: (N, length) ids -> (N, length, dims).

    Ids are integers, so there is nothing to differentiate and no rule: the relevance of a token is
    the sum of the relevance of its embedding vector's dimensions (Arras et al., 2017).
    """

    table: np.ndarray  # (vocabulary size, dims)
    name: str = "embedding"
    padding_id: int | None = None  # this id embeds to the zero vector (lrp_helpers.text.PaddedEmbedding)

    def forward(self, a):
        ids = np.asarray(a).astype(np.int64)
        vectors = self.table[ids]
        return vectors if self.padding_id is None else vectors * (ids != self.padding_id)[..., None]

    def relevance(self, a, R):
        return R.sum(axis=-1)


@dataclass(eq=False)
class Conv1D(Linear):
    """1-D convolution, stride 1, 'same' (zero) or 'valid' padding, (N, length, channels) as Keras."""

    weight: np.ndarray  # (width, in_channels, out_channels)
    bias: np.ndarray
    name: str = "conv1d"
    padding: str = "same"
    kind = rules.CONV

    def _pads(self):
        width = self.weight.shape[0]
        return ((width - 1) // 2, width // 2) if self.padding == "same" else (0, 0)

    def apply(self, a, weight, bias=None):
        width, cin, cout = weight.shape
        padded = np.pad(a, ((0, 0), self._pads(), (0, 0)))
        patches = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (N, L_out, C_in, width)
        patches = patches.transpose(0, 1, 3, 2).reshape(len(a), patches.shape[1], width * cin)
        out = patches @ weight.reshape(-1, cout)
        return out if bias is None else out + bias

    def backward(self, s, weight):
        width, cin, cout = weight.shape
        n, length_out, _ = s.shape
        per_patch = (s @ weight.reshape(-1, cout).T).reshape(n, length_out, width, cin)
        padded = np.zeros((n, length_out + width - 1, cin))
        for offset in range(width):
            padded[:, offset : offset + length_out] += per_patch[:, :, offset]
        left, right = self._pads()
        return padded[:, left : padded.shape[1] - right]


@dataclass(eq=False)
class GlobalMaxPool1D(Layer):
    """The maximum over the whole sequence, per channel. Relevance goes to the maximum; positions
    that tie exactly share it equally, as the gradient of TensorFlow's reduce_max does (which is
    what iNNvestigate uses for this layer)."""

    name: str = "global_maxpool"

    def forward(self, a):
        return a.max(axis=1)

    def relevance(self, a, R):
        winners = a == a.max(axis=1, keepdims=True)
        return winners * (R / winners.sum(axis=1))[:, None, :]


@dataclass(eq=False)
class MaxPool1D(Layer):
    """Non-overlapping max-pooling along a sequence, (N, length, channels) as Keras' MaxPooling1D with
    pool_size = strides and 'valid' padding. Relevance goes to the window's first maximum, the position
    TensorFlow's max-pool gradient picks when values tie."""

    size: int = 2
    name: str = "maxpool1d"

    def _windows(self, a):
        n, length, c = a.shape
        k = self.size
        return a[:, : length - length % k].reshape(n, length // k, k, c).transpose(0, 1, 3, 2)  # window last

    def forward(self, a):
        return self._windows(a).max(axis=-1)

    def relevance(self, a, R):
        windows = self._windows(a)
        winner = windows.argmax(axis=-1)  # np.argmax returns the first maximum
        spread = np.zeros_like(windows)
        np.put_along_axis(spread, winner[..., None], R[..., None], axis=-1)
        out = np.zeros_like(a)
        out[:, : windows.shape[1] * self.size] = spread.transpose(0, 1, 3, 2).reshape(len(a), -1, a.shape[2])
        return out


# ---------------------------------------------------------------------------------------------
# Residual connections: a network that is not a plain sequence.
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Residual(Layer):
    """y = x + block(x): a residual connection around `block`, a list of this module's layers.

    The relevance R at y is split between the two summands in proportion to their values,
    R_x = x·R/y and R_block = block(x)·R/y (a zero y counts as 1e-7), so the split conserves; the block's
    share then goes back through the block, and the input receives both parts.
    """

    block: list[Layer]
    name: str = "residual"

    def forward(self, a):
        return a + _forward(self.block, a)[-1]

    def propagate(self, a, R, composite, record):
        activations = _forward(self.block, a)
        s = _safe_divide(R, a + activations[-1])
        return a * s + _propagate(self.block, activations, activations[-1] * s, composite, record)


def _forward(layers: list[Layer], x: np.ndarray) -> list[np.ndarray]:
    activations = [np.asarray(x, dtype=np.float64)]
    for layer in layers:
        activations.append(layer.forward(activations[-1]))
    return activations


def _propagate(layers: list[Layer], activations, R, composite, record: dict, condition=None) -> np.ndarray:
    """The backward pass through `layers`, from R at their output to the relevance of their input. `condition`
    ({layer name: channels}, `lrp_helpers.conditions`) zeroes, at the output of each layer it names, the relevance
    of the channels it leaves out before it goes on (and before it is recorded)."""
    for layer, a in zip(reversed(layers), reversed(activations[:-1])):
        if condition and layer.name in condition:
            chosen = conditions.kept(layer.name, condition[layer.name], len(R), R.shape[-1])
            R = R * chosen.reshape(len(R), *[1] * (R.ndim - 2), R.shape[-1])
        record[layer.name] = R
        R = layer.propagate(a, R, composite, record)
    return R


def _names(layers: list[Layer]) -> list[str]:
    """Every layer's name in forward order, the layers inside residual blocks included."""
    return [name for layer in layers for name in (*_names(getattr(layer, "block", [])), layer.name)]
