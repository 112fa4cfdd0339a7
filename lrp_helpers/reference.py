"""An independent LRP implementation in NumPy: short, readable, float64, no TensorFlow inside.

This is the code notebook 01 teaches from and the yardstick the tests hold iNNvestigate to.

Every linear layer (convolution, dense, BatchNorm at inference) is explained with the same
four steps (Montavon et al., "Layer-wise Relevance Propagation: An Overview", 2019)::

    z = rho(layer)(a) + eps     # 1. forward pass with the rule's modified weights
    s = R / z                   # 2. divide the relevance by it
    c = rho(layer)^T (s)        # 3. send it back along the (modified) weights: a gradient
    R_in = a * c                # 4. multiply by the input

Rules are small objects that say how to do these steps (`Epsilon`, `Gamma`, `AlphaBeta`, ...): each
computes a rule spec of `lrp_helpers.rules`, the definitions every engine shares; a `Composite` picks a
rule per layer. `lrp_helpers.convert.from_keras` reads a trained Keras model into these layers; this module
imports nothing but NumPy and the package's definitions. Layers without weights need no rule: ReLU and Dropout pass
relevance on unchanged, max-pooling hands it to the winning input, Flatten reshapes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import rules
from .rules import Composite  # noqa: F401 -- a composite is a spec; the reference reads it as it is
from .targets import resolve as resolve_targets

# ---------------------------------------------------------------------------------------------
# Layers: a forward pass, and for linear layers the transposed pass ("backward") used in step 3.
# ---------------------------------------------------------------------------------------------


class Layer:
    name: str = ""
    has_weights = False

    def forward(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError


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
# Rules: how a linear layer hands relevance from its outputs to its inputs.
# ---------------------------------------------------------------------------------------------


def _safe_divide(numerator, denominator):
    """numerator / denominator, where a zero denominator counts as 1e-7 (as iNNvestigate does)."""
    return numerator / np.where(denominator == 0, 1e-7, denominator)


def _positive(x):
    return np.maximum(x, 0)


def _negative(x):
    return np.minimum(x, 0)


class Epsilon(rules.Epsilon):
    """LRP-ε: z_k = Σ_j a_j w_jk + b_k + ε·sign(z_k). ε = 0 is LRP-0.

    The bias is an input that keeps its share of relevance; ε absorbs some more. Both make the
    relevance that reaches the layer's inputs smaller than what arrived ("absorbed" relevance).
    bias=False leaves the bias out of z (iNNvestigate's `lrp.epsilon_IB`): only ε absorbs.
    """

    implements = rules.Epsilon  # the definition (lrp_helpers.rules) this class computes

    def relevance(self, layer, a, R):
        z = layer.apply(a, layer.weight, layer.bias if self.bias else None)  # step 1: z = a w (+ b)
        z = z + self.epsilon * np.where(z >= 0, 1.0, -1.0)
        s = _safe_divide(R, z)  # step 2
        c = layer.backward(s, layer.weight)  # step 3
        return a * c  # step 4


class LRP0(Epsilon):
    """LRP-0: redistribute in proportion to a_j w_jk. Equals gradient × input on a ReLU net."""

    implements = rules.Epsilon

    def __init__(self, bias: bool = True):
        super().__init__(epsilon=0.0, bias=bias)


class Gamma(rules.Gamma):
    """LRP-γ: favour positive contributions, a_j w_jk -> a_j w_jk + γ·(a_j w_jk)⁺ (b -> b + γ·b⁺).

    For inputs a ≥ 0 this is the usual weight form w -> w + γ·w⁺. Here BatchNorm follows each
    ReLU, so layers also see negative inputs; writing the rule on contributions keeps "favour
    positive contributions" true for them: (a w)⁺ = a⁺w⁺ + a⁻w⁻.
    """

    implements = rules.Gamma

    def relevance(self, layer, a, R):
        a_pos, a_neg = _positive(a), _negative(a)
        w, w_pos, w_neg = layer.weight, _positive(layer.weight), _negative(layer.weight)
        z = layer.apply(a, w, layer.bias) + self.gamma * (
            layer.apply(a_pos, w_pos) + layer.apply(a_neg, w_neg) + _positive(layer.bias)
        )
        s = _safe_divide(R, z)
        return a * layer.backward(s, w) + self.gamma * (
            a_pos * layer.backward(s, w_pos) + a_neg * layer.backward(s, w_neg)
        )


class AlphaBeta(rules.AlphaBeta):
    """LRP-αβ: R_j = Σ_k (α (a_j w_jk)⁺ / Σ_j (a_j w_jk)⁺ − β (a_j w_jk)⁻ / Σ_j (a_j w_jk)⁻) R_k.

    α − β = 1. The bias is ignored here (iNNvestigate's `lrp.alpha_*_beta_*_IB`); Bach et al. (2015)
    and Montavon et al. (2019) count it as one more input, b⁺ in the positive and b⁻ in the
    negative sum. On the canonized miniVGG (every input ≥ 0, `lrp_helpers.canonize`), ignoring it
    makes αβ conserve exactly: the input receives (α − β) = 1 times the relevance. iNNvestigate's
    `lrp.alpha_2_beta_1` (without _IB) adds the *whole* bias to both sums, which is neither.
    For α = 1, β = 0 this is the z⁺ rule.
    """

    implements = rules.AlphaBeta

    @staticmethod
    def _share(layer, a, R, weight_for_positive_a, weight_for_negative_a):
        a_pos, a_neg = _positive(a), _negative(a)
        z = layer.apply(a_pos, weight_for_positive_a) + layer.apply(a_neg, weight_for_negative_a)
        s = _safe_divide(R, z)
        return a_pos * layer.backward(s, weight_for_positive_a) + a_neg * layer.backward(s, weight_for_negative_a)

    def relevance(self, layer, a, R):
        w_pos, w_neg = _positive(layer.weight), _negative(layer.weight)
        activating = self._share(layer, a, R, w_pos, w_neg)  # the (a w)⁺ terms
        if self.beta == 0:
            return self.alpha * activating
        inhibiting = self._share(layer, a, R, w_neg, w_pos)  # the (a w)⁻ terms
        return self.alpha * activating - self.beta * inhibiting


class ZPlus(AlphaBeta):
    """z⁺: α = 1, β = 0 — only positive contributions count."""

    implements = rules.AlphaBeta

    def __init__(self):
        super().__init__(alpha=1.0, beta=0.0)


def _by_weights_alone(layer, a, R, weight):
    """Relevance spread by `weight` alone, whatever the input's values (w², flat)."""
    return layer.backward(_safe_divide(R, layer.apply(np.ones_like(a), weight)), weight)


class WSquare(rules.WSquare):
    """w²: R_i = Σ_j w_ij² / Σ_i w_ij² R_j (Montavon et al. 2017, deep Taylor decomposition)."""

    implements = rules.WSquare

    def relevance(self, layer, a, R):
        return _by_weights_alone(layer, a, R, layer.weight**2)


class Flat(rules.Flat):
    """flat: every input in a neuron's receptive field gets an equal share."""

    implements = rules.Flat

    def relevance(self, layer, a, R):
        return _by_weights_alone(layer, a, R, np.ones_like(layer.weight))


class ZBox(rules.ZBox):
    """zᴮ (bounded) rule for the input layer, where pixels lie in [low, high].

    z_k = Σ_j (a_j w_jk − l_j w_jk⁺ − h_j w_jk⁻), R_j = Σ_k (a_j w_jk − l_j w_jk⁺ − h_j w_jk⁻) R_k / z_k.
    """

    implements = rules.ZBox

    def relevance(self, layer, a, R):
        w, w_pos, w_neg = layer.weight, _positive(layer.weight), _negative(layer.weight)
        low, high = np.full_like(a, self.low), np.full_like(a, self.high)
        z = layer.apply(a, w) - layer.apply(low, w_pos) - layer.apply(high, w_neg)
        s = _safe_divide(R, z)
        return a * layer.backward(s, w) - low * layer.backward(s, w_pos) - high * layer.backward(s, w_neg)


# ---------------------------------------------------------------------------------------------
# Composites: which rule for which layer.
# ---------------------------------------------------------------------------------------------


IMPLEMENTATIONS = {rule.implements: rule for rule in (Epsilon, Gamma, AlphaBeta, ZBox, WSquare, Flat)}


def implementation(rule):
    """The reference's implementation of a rule spec (`lrp_helpers.rules`). A rule object with a
    `relevance` method of its own (this module's classes, or a variant such as
    `verify.lrp0_sensitivity`'s) is used as it is."""
    if callable(getattr(rule, "relevance", None)):
        return rule
    cls = IMPLEMENTATIONS.get(type(rule))
    if cls is None:
        known = ", ".join(spec.__name__ for spec in IMPLEMENTATIONS)
        raise TypeError(f"the reference implements no rule {rule!r}; it implements {known}")
    return cls(**{name: getattr(rule, name) for name in type(rule).__dataclass_fields__})


def linear_layers(network: Network) -> list[tuple[str, str]]:
    """(name, kind) of the network's linear layers, bottom up: what `rules.depth_composite` takes."""
    return [(layer.name, layer.kind) for layer in network.layers if layer.has_weights]


def depth_composite(network: Network, gamma=0.25, epsilon=0.25, low=0.0, high=1.0) -> Composite:
    """`rules.depth_composite` for this network's layers."""
    return rules.depth_composite(linear_layers(network), gamma, epsilon, low, high)


# ---------------------------------------------------------------------------------------------
# The network and the backward pass.
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Explanation:
    """The result of `Network.explain`.

    input:   relevance of each input pixel and channel, shape (N, H, W, C)
    layers:  relevance at the *output* of each layer, by layer name, in forward order
    logits:  the explained logit of each image (the relevance put in at the top), shape (N,)
    targets: the explained class of each image
    """

    input: np.ndarray
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    targets: np.ndarray

    def by_layer(self) -> tuple[list[str], list[np.ndarray]]:
        """Names and relevance bottom-up, starting with the input: ready for `conservation`."""
        return ["input", *self.layers], [self.input, *self.layers.values()]


@dataclass(eq=False)
class Network:
    """A sequential network of the layers above, without the final softmax (LRP explains logits)."""

    layers: list[Layer]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """The input to every layer, then the network output: len(layers) + 1 arrays."""
        activations = [np.asarray(x, dtype=np.float64)]
        for layer in self.layers:
            activations.append(layer.forward(activations[-1]))
        return activations

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def explain(self, x: np.ndarray, rule: rules.Rule | Composite, target=None) -> Explanation:
        """Explain the logit of `target` (None: the predicted class; an int; or one per image)."""
        composite = rules.as_composite(rule)
        activations = self.forward(x)
        logits = activations[-1]
        explained = resolve_targets("predicted" if target is None else target, logits)
        R = np.zeros_like(logits)
        rows = np.arange(len(logits))
        R[rows, explained] = logits[rows, explained]
        by_layer = {}
        for index in reversed(range(len(self.layers))):
            layer, a = self.layers[index], activations[index]
            by_layer[layer.name] = R
            if layer.has_weights:
                R = implementation(composite.rule_for(layer.name, layer.kind)).relevance(layer, a, R)
            elif isinstance(layer, (MaxPool2D, MaxPool1D, GlobalMaxPool1D, Embedding)):
                R = layer.relevance(a, R)
            elif isinstance(layer, Flatten):
                R = R.reshape(a.shape)
            # ReLU and Identity pass relevance on unchanged
        names = [layer.name for layer in self.layers]
        return Explanation(
            input=R,
            layers={name: by_layer[name] for name in names},
            logits=logits[rows, explained],
            targets=explained,
        )


# ---------------------------------------------------------------------------------------------
# Conservation: where does the relevance go?
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Conservation:
    """Relevance totals layer by layer, for a batch.

    names:  layer names, bottom (input) to top
    totals: sum of relevance per image at each layer's output, shape (layers, images);
            totals[0] is the input relevance, totals[-1] the explained logit
    """

    names: list[str]
    totals: np.ndarray

    @property
    def input_share(self) -> np.ndarray:
        """Per image: input relevance / explained logit (1 = perfectly conserved)."""
        return self.totals[0] / self.totals[-1]

    @property
    def absorbed_share(self) -> np.ndarray:
        """Per layer (names[1:]) and image: the share of the explained logit the layer kept
        (by its bias, ε, or the rule) instead of passing on to its input."""
        return (self.totals[1:] - self.totals[:-1]) / self.totals[-1]

    def table(self, layers=None) -> list[dict]:
        """Rows of mean values, one per layer (all layers, or just those named in `layers`)."""
        rows = []
        for i, name in enumerate(self.names[1:], start=1):
            if layers is not None and name not in layers:
                continue
            rows.append(
                {
                    "layer": name,
                    "arriving": float(self.totals[i].mean()),
                    "leaving": float(self.totals[i - 1].mean()),
                    "absorbed_share": float(self.absorbed_share[i - 1].mean()),
                }
            )
        return rows


def conservation(names: list[str], relevances: list[np.ndarray]) -> Conservation:
    """`relevances[i]` is the relevance at the output of layer `names[i]`; index 0 is the input.
    Works for the reference (`Explanation.by_layer()`) and iNNvestigate (`LayerRelevance`)."""
    totals = np.stack([np.asarray(r, np.float64).reshape(len(r), -1).sum(axis=1) for r in relevances])
    return Conservation(list(names), totals)
