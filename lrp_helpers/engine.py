"""Our own LRP engine in TensorFlow: every rule spec of `lrp_helpers.rules` by the gradient-times-input trick.

    with engine.Engine(model, rules.Epsilon(0.1)) as lrp:
        explanation = lrp.explain(images, target="predicted")   # .input, .layers (by name), .targets
        through_7 = lrp.explain(images, condition={"block2_conv2": [7]})   # through channel 7 alone (CRP)

For each linear layer the rule's four steps (notebook 03, `lrp_helpers.scratch`) run in the layer's own
TensorFlow operation, with the weights the rule asks for: z = f(a; w′) (+ stabiliser), s = R / z, and
c = ∂(f(a; w′)·s)/∂a by TensorFlow's gradient — the modified backward pass — then R = a·c. Max-pooling
hands relevance to the window's maximum (its gradient), layers that pass values on pass relevance on.

It grew from `scratch` and does what iNNvestigate cannot be made to do: its table from spec type to
implementation (`IMPLEMENTATIONS`) is where attention and LayerNorm will go, and it conditions relevance on
channels (Concept Relevance Propagation: a mask per layer, fed like the inputs). It reads the model as
`analysis` does (own graph, learning phase 0, softmax dropped), shares no code with the other engines, and the
tests hold it to the NumPy reference at every layer.

`TransformerEngine` does the same for notebook 10's transformer (`lrp_helpers.transformer.text_transformer`):
AttnLRP, CP-LRP, or plain input × gradient, one modified backward pass per operation (its docstring derives them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import conditions, keras_layers, rules
from .graphs import OwnGraph
from .targets import resolve as resolve_targets


def _divide(R, z):
    """R / z, where a zero denominator counts as 1e-7 (as the other engines do)."""
    return R / tf.where(tf.equal(z, 0.0), tf.constant(1e-7, z.dtype), z)


def _backward(forward, a, s):
    """∂(forward(a)·s)/∂a: the weights, transposed, applied to s (the gradient-times-input trick)."""
    return tf.gradients(forward(a), a, grad_ys=s)[0]


def _positive(x):
    return tf.maximum(x, 0.0)


def _negative(x):
    return tf.minimum(x, 0.0)


@dataclass
class Linear:
    """A layer's affine map f(x; w, b), and its own weight and bias (symbolic)."""

    apply: Callable  # (x, weight, bias or None) -> tensor
    weight: tf.Tensor
    bias: tf.Tensor | None

    def map(self, weight, bias=None):
        return lambda x: self.apply(x, weight, bias)


def _epsilon(rule: rules.Epsilon, f: Linear, a, R):
    z = f.apply(a, f.weight, f.bias if rule.bias else None)
    z = z + rule.epsilon * tf.where(z >= 0, 1.0, -1.0)
    return a * _backward(f.map(f.weight), a, _divide(R, z))


def _gamma(rule: rules.Gamma, f: Linear, a, R):
    a_pos, a_neg = _positive(a), _negative(a)
    w, w_pos, w_neg = f.weight, _positive(f.weight), _negative(f.weight)
    favoured_bias = 0.0 if f.bias is None else _positive(f.bias)
    z = f.apply(a, w, f.bias) + rule.gamma * (f.apply(a_pos, w_pos, None) + f.apply(a_neg, w_neg, None) + favoured_bias)
    s = _divide(R, z)
    favoured = a_pos * _backward(f.map(w_pos), a_pos, s) + a_neg * _backward(f.map(w_neg), a_neg, s)
    return a * _backward(f.map(w), a, s) + rule.gamma * favoured


def _alpha_beta(rule: rules.AlphaBeta, f: Linear, a, R):
    a_pos, a_neg = _positive(a), _negative(a)
    w_pos, w_neg = _positive(f.weight), _negative(f.weight)

    def share(for_positive_a, for_negative_a):
        s = _divide(R, f.apply(a_pos, for_positive_a, None) + f.apply(a_neg, for_negative_a, None))
        return a_pos * _backward(f.map(for_positive_a), a_pos, s) + a_neg * _backward(f.map(for_negative_a), a_neg, s)

    activating = share(w_pos, w_neg)  # the (a w)⁺ terms
    if rule.beta == 0:
        return rule.alpha * activating
    return rule.alpha * activating - rule.beta * share(w_neg, w_pos)


def _z_box(rule: rules.ZBox, f: Linear, a, R):
    w, w_pos, w_neg = f.weight, _positive(f.weight), _negative(f.weight)
    low, high = tf.fill(tf.shape(a), rule.low), tf.fill(tf.shape(a), rule.high)
    z = f.apply(a, w, None) - f.apply(low, w_pos, None) - f.apply(high, w_neg, None)
    s = _divide(R, z)
    return (
        a * _backward(f.map(w), a, s) - low * _backward(f.map(w_pos), low, s) - high * _backward(f.map(w_neg), high, s)
    )


def _by_weights_alone(weight_of):
    def relevance(rule, f: Linear, a, R):
        ones, weight = tf.ones_like(a), weight_of(f.weight)
        return _backward(f.map(weight), ones, _divide(R, f.apply(ones, weight, None)))

    return relevance


# This engine's table: spec type -> (spec, layer's affine map, input, relevance at the output) -> input relevance.
IMPLEMENTATIONS = {
    rules.Epsilon: _epsilon,
    rules.Gamma: _gamma,
    rules.AlphaBeta: _alpha_beta,
    rules.ZBox: _z_box,
    rules.WSquare: _by_weights_alone(tf.square),
    rules.Flat: _by_weights_alone(tf.ones_like),
}


def _linear(layer) -> Linear:
    """The affine map of a Dense, convolution or BatchNormalization layer (at inference)."""
    name = type(layer).__name__
    if name == "BatchNormalization":
        return Linear(lambda x, w, b: x * w if b is None else x * w + b, *keras_layers.batchnorm_as_affine(layer))
    bias = layer.bias if layer.use_bias else None
    if name == "Dense":
        return Linear(lambda x, w, b: tf.matmul(x, w) if b is None else tf.matmul(x, w) + b, layer.kernel, bias)

    def convolution(x, w, b):
        out = tf.nn.convolution(
            x, w, strides=layer.strides, padding=layer.padding.upper(), dilations=layer.dilation_rate
        )
        return out if b is None else out + b

    return Linear(convolution, layer.kernel, bias)


@dataclass
class Explanation:
    """input: the relevance of every input value (None where `Engine.explain`'s `at` leaves it out); layers: the
    relevance at each layer's output, by name, in forward order; logits: the explained logit per input; targets:
    the explained class per input."""

    input: np.ndarray | None
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    targets: np.ndarray


def _chosen(table: dict, names, what: str) -> dict:
    """The entries of `table` called `names`, refused with a clear error for a name it does not have."""
    names = [names] if isinstance(names, str) else names
    unknown = [name for name in names if name not in table]
    if unknown:
        raise ValueError(f"no {what} called {', '.join(map(repr, unknown))}; choose among {', '.join(table)}")
    return {name: table[name] for name in names}


class Engine(OwnGraph):
    """LRP with `rule` (a spec or composite, `lrp_helpers.rules`) on a sequential Keras model (module doc)."""

    def __init__(self, model, rule: rules.Rule | rules.Composite):
        keras_layers.check_model(model)
        self.composite = rules.as_composite(rule)
        for layer_rule in (self.composite.default, *self.composite.rules.values(), *self.composite.by_kind.values()):
            if rules.spec_type(layer_rule) not in IMPLEMENTATIONS:
                raise TypeError(f"the TensorFlow engine implements no rule {layer_rule!r}")
        super().__init__()
        rebuilt = self.rebuild(model)
        with self.inside():
            self._build(rebuilt)

    def _build(self, model):
        layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        if layers and type(layers[-1]).__name__ == "Activation" and layers[-1].get_config()["activation"] == "softmax":
            layers = layers[:-1]  # LRP explains the logits
        self.inputs = tf.compat.v1.placeholder(tf.float32, (None, *model.input_shape[1:]))
        self.target_classes = tf.compat.v1.placeholder(tf.int32, (None,))
        activations, outputs = [self.inputs], []
        for position, layer in enumerate(layers):
            a = activations[-1]
            if keras_layers.kind(layer) is not None:
                affine = _linear(layer)
                pre_activation = affine.apply(a, affine.weight, affine.bias)
                activation = layer.get_config().get("activation", "linear")
                if activation == "softmax" and position != len(layers) - 1:
                    raise ValueError(f"{layer.name}: softmax is supported on the last layer only")
                activations.append(tf.nn.relu(pre_activation) if activation == "relu" else pre_activation)
            elif layer.get_config().get("activation") == "softmax":
                raise ValueError(f"{layer.name}: softmax is supported on the last layer only")
            else:
                activations.append(layer(a))
            outputs.append(layer.name)
        self.logits = activations[-1]
        self.activations = dict(zip(outputs, activations[1:]))
        self.channel_masks = {}  # layer name -> the placeholder of a condition's kept channels (`_channel_mask`)
        R = self.logits * tf.one_hot(self.target_classes, self.logits.shape[-1], dtype=self.logits.dtype)
        relevance = {}
        for layer, a in zip(reversed(layers), reversed(activations[:-1])):
            R = R * self._channel_mask(layer.name, self.activations[layer.name])
            relevance[layer.name] = R
            kind, name = keras_layers.kind(layer), type(layer).__name__
            if kind is not None:
                rule = self.composite.rule_for(layer.name, kind)
                R = IMPLEMENTATIONS[rules.spec_type(rule)](rule, _linear(layer), a, R)
            elif name in keras_layers.POOLING:
                R = _backward(layer, a, R)  # the whole relevance to the maximum
            else:  # ReLU, Dropout, Flatten: passed on, reshaped
                R = tf.reshape(R, tf.shape(a))
        self.relevance = {"input": R, **{name: relevance[name] for name in outputs}}

    def _channel_mask(self, name, output):
        """The channels a condition keeps at the output of layer `name`: a placeholder (images, channels) that
        `explain` feeds, all ones when it does not, shaped to multiply the relevance there. One graph then serves
        every condition, and a batch can pair each image with channels of its own."""
        count = output.shape[-1]
        mask = tf.compat.v1.placeholder_with_default(tf.ones((1, count)), (None, count), name=f"{name}_kept")
        self.channel_masks[name] = mask
        return tf.reshape(mask, [-1, *[1] * (len(output.shape) - 2), count])

    def explain(
        self, inputs: np.ndarray, target="predicted", batch_size: int = 64, condition=None, at=None
    ) -> Explanation:
        """The explanation of `target` (the vocabulary of `lrp_helpers.targets`), resolved on this engine's logits.

        condition: {layer name: channels} (`lrp_helpers.conditions`): the relevance that flows through those
                   channels alone (Concept Relevance Propagation, as `reference.Network.explain` defines it, with
                   its completeness). A boolean mask (images, channels) explains many (image, channel) pairs in one
                   batch: repeat the image, one row per channel.
        at:        the names whose relevance to compute ("input" and layer names; default: all). The backward pass
                   then runs only as far down as the lowest of them: the relevance of a layer's channels costs no
                   more than the forward pass and the layers above it.
        """
        inputs = np.asarray(inputs, np.float32)
        condition = conditions.check_layers(condition, list(self.activations))
        fetches = _chosen(self.relevance, self.relevance if at is None else at, "relevance")
        logits = self._run(self.logits, {self.inputs: inputs}, batch_size)
        targets = resolve_targets(target, logits)
        feeds = {self.inputs: inputs, self.target_classes: targets}
        for name, channels in condition.items():
            mask = self.channel_masks[name]
            feeds[mask] = conditions.kept(name, channels, len(inputs), mask.shape[-1]).astype(np.float32)
        relevance = self._run(fetches, feeds, batch_size)
        return Explanation(
            input=relevance.pop("input", None),
            layers=relevance,
            logits=logits[np.arange(len(inputs)), targets],
            targets=targets,
        )

    def activations_at(self, inputs: np.ndarray, layers, batch_size: int = 64) -> dict[str, np.ndarray]:
        """The output of each of `layers` (names), by name: the forward pass only, as far up as the highest."""
        fetches = _chosen(self.activations, layers, "layer")
        return self._run(fetches, {self.inputs: np.asarray(inputs, np.float32)}, batch_size)

    def _run(self, fetches, feeds: dict, batch_size: int):
        """`fetches` (a tensor or a dict of them) for `feeds` (placeholder -> one row per input), batch by batch,
        joined."""
        count = len(feeds[self.inputs])
        with self.inside():
            parts = [
                self.session.run(fetches, {tensor: rows[start : start + batch_size] for tensor, rows in feeds.items()})
                for start in range(0, count, batch_size)
            ]
        return tf.nest.map_structure(lambda *batches: np.concatenate(batches), *parts)


# The transformer of notebook 10 (`lrp_helpers.transformer.text_transformer`) -------------------------------------

PADDING_ID = 0  # `lrp_helpers.text.PADDING_ID` (a higher floor): the id the attention and the mean leave out
MASKED = -1e9  # what Keras's softmax adds to the score of a masked key (float32)
INPUT_T_GRADIENT = "input_t_gradient"  # the registry's name for input × gradient (`lrp_helpers.methods`)


def _gradient_scaled(x, factor):
    """x; in the backward pass, the gradient reaching x is multiplied by `factor`."""

    @tf.custom_gradient
    def identity(x):
        return tf.identity(x), lambda upstream: upstream * factor

    return identity(x)


def _relevance_passed_on(f, x):
    """f(x); in the backward pass, the gradient reaching f(x) is multiplied by f(x)/x, so x ⊙ g_x = f(x) ⊙ g_f(x)."""

    @tf.custom_gradient
    def passed_on(x):
        y = f(x)
        return y, lambda upstream: upstream * _divide(y, x)

    return passed_on(x)


def _gelu(x):
    """Keras's "gelu", the exact one, x·Φ(x) (tf.nn.gelu in float64 is off by 5e-9: it rounds √2 to float32)."""
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


class _Gradient:
    """The ordinary backward pass of every operation: the relevance t ⊙ g_t is input × gradient."""

    def linear(self, name, product, bias):
        """The output z = product + bias of the linear map `name` (bias None: it has none)."""
        return product if bias is None else product + bias

    def normalization(self, name, sigma):
        """The standard deviation LayerNorm `name` divides by."""
        return sigma

    def activation(self, name, f, x):
        return f(x)

    def factors(self, name, kind, a, b):
        """The two factors of the product `name` (kind rules.SCORES or rules.MIXING)."""
        return a, b

    def softmax(self, name, x):
        return tf.nn.softmax(x)


class _Rules(_Gradient):
    """The backward passes of a composite's rules (derived in `TransformerEngine`'s docstring)."""

    def __init__(self, composite: rules.Composite):
        self.composite = composite

    def _rule(self, name, kind, *implemented):
        rule = self.composite.rule_for(name, kind)
        if rules.spec_type(rule) not in implemented:
            raise TypeError(
                f"{name}: the transformer engine implements {' or '.join(spec.__name__ for spec in implemented)} "
                f"on kind {kind!r}, not {rule!r}; give the composite one of those for {kind!r} "
                "(rules.transformer_composite does)"
            )
        return rule

    def linear(self, name, product, bias):
        rule = self._rule(name, rules.DENSE, rules.Epsilon)
        z = super().linear(name, product, bias)
        z_rule = z if rule.bias else product
        z_rule = z_rule + rule.epsilon * tf.cast(tf.where(z_rule >= 0, 1.0, -1.0), z_rule.dtype)
        return _gradient_scaled(z, _divide(z, z_rule))

    def normalization(self, name, sigma):
        self._rule(name, rules.NORMALIZATION, rules.Identity)
        return tf.stop_gradient(sigma)

    def activation(self, name, f, x):
        self._rule(name, rules.ACTIVATION, rules.Identity)
        return _relevance_passed_on(f, x)

    def factors(self, name, kind, a, b):
        if rules.spec_type(self._rule(name, kind, rules.Uniform, rules.HoldConstant)) is rules.Uniform:
            return _gradient_scaled(a, 0.5), _gradient_scaled(b, 0.5)
        return tf.stop_gradient(a), b

    def softmax(self, name, x):
        self._rule(name, rules.SOFTMAX, rules.SoftmaxTaylor)
        return super().softmax(name, x)


def _layer_norm_weights(layer) -> dict:
    if not (layer.center and layer.scale) or list(layer.axis) not in ([-1], [2]):
        raise ValueError(f"{layer.name}: the transformer engine reads LayerNormalization over the last axis only")
    return {"gamma": layer.gamma, "beta": layer.beta, "epsilon": layer.epsilon}


def _dense_weights(layer, activation="linear") -> dict:
    """The kernel and bias of a Dense layer, or of one of MultiHeadAttention's projections (EinsumDense)."""
    if layer.get_config()["activation"] != activation:
        raise ValueError(f"{layer.name}: the transformer engine expects activation {activation!r} here")
    if layer.bias is None:
        raise ValueError(f"{layer.name}: the transformer engine expects a bias")
    return {"kernel": layer.kernel, "bias": layer.bias}


def _block_weights(block) -> dict:
    attention = block.attention  # Keras's MultiHeadAttention: the projections are its EinsumDense layers
    return {
        "norm1": _layer_norm_weights(block.norm1),
        **{part: _dense_weights(getattr(attention, f"_{part}_dense")) for part in ("query", "key", "value")},
        "attention": _dense_weights(attention._output_dense),
        "norm2": _layer_norm_weights(block.norm2),
        "mlp_in": _dense_weights(block.mlp_in, "gelu"),
        "mlp_out": _dense_weights(block.mlp_out),
    }


_TRANSFORMER_LAYERS = {  # type name -> the layer's weights (variables) and settings, by name
    "TokenAndPosition": lambda layer: {"tokens": layer.tokens, "positions": layer.positions},
    "EncoderBlock": _block_weights,
    "LayerNormalization": _layer_norm_weights,
    "MaskedMean": lambda layer: {},
    "Dense": _dense_weights,
}


def _transformer_layers(model) -> list[tuple[str, str, dict]]:
    """(type name, layer name, weights as NumPy arrays) of a text_transformer's layers, bottom up, up to the logits."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(layers[-1]).__name__ == "Activation" and layers[-1].get_config()["activation"] == "softmax":
        layers = layers[:-1]  # LRP explains the logits
    structure = []
    for layer in layers:
        kind = type(layer).__name__
        if kind not in _TRANSFORMER_LAYERS:
            raise ValueError(
                f"Layer {layer.name!r} is a {kind}; the transformer engine reads {', '.join(_TRANSFORMER_LAYERS)} "
                "(lrp_helpers.transformer.text_transformer) and a final softmax"
            )
        structure.append((kind, layer.name, _TRANSFORMER_LAYERS[kind](layer)))
    variables = [leaf for leaf in tf.nest.flatten(structure) if isinstance(leaf, tf.Variable)]
    values = dict(zip(map(id, variables), tf.keras.backend.batch_get_value(variables)))  # one read, as `convert`
    return tf.nest.map_structure(lambda leaf: values.get(id(leaf), leaf), structure)


class TransformerEngine(OwnGraph):
    """LRP (AttnLRP, CP-LRP: `rules.transformer_composite`) or input × gradient on a `text_transformer`.

        with engine.TransformerEngine(model, rules.transformer_composite("attnlrp")) as lrp:
            explanation = lrp.explain(ids)  # .input: (N, length) token relevance; .layers: by named tensor
            weights = lrp.attention(ids)    # {"block1": A (N, heads, length, length), ...}
        engine.TransformerEngine(model, "input_t_gradient")   # the ordinary gradient everywhere

    The forward pass is rebuilt from the model's weights in the engine's own graph. The relevance at every
    tensor t is R_t = t ⊙ g_t, where g is the gradient of the explained logit (R = the logit at the top) with
    one modified backward pass per operation. Each keeps R_t = t ⊙ g_t true at its input, given it at its output:

    - a linear map z = W a + b (the projections, the MLP, the mean over the tokens, the logits), rule
      Epsilon(ε, bias): R_a = a ⊙ Wᵀ(R_z / z_ε) with z_ε = z (or z − b without the bias) + ε·sign, and
      R_z / z_ε = g_z ⊙ z / z_ε: the gradient at z is multiplied by z / z_ε, then flows back through W as usual;
    - LayerNorm, rule Identity on NORMALIZATION: σ under stop_gradient makes x ↦ (x − mean x)·γ/σ + β linear,
      explained by the linear rule as above;
    - GELU, rule Identity on ACTIVATION: R_x = R_y = y ⊙ g_y = x ⊙ (g_y ⊙ y/x), so the gradient is multiplied by y/x;
    - a product y = a·b (scores = (Q/√dk)·Kᵀ, mixed = A·V), rule Uniform: R_a = ½ a ⊙ ((R/y)·bᵀ) = a ⊙ (½ g_y·bᵀ),
      half the ordinary gradient to each factor; HoldConstant: a under stop_gradient, b the ordinary gradient;
    - the softmax s = softmax(x), x = scores + mask, rule SoftmaxTaylor: the ordinary gradient
      g_x = s ⊙ (g_s − Σ s ⊙ g_s) gives x ⊙ g_x = x ⊙ (s ⊙ g_s − s·Σ s ⊙ g_s) = x ⊙ (R − s·ΣR) with R = s ⊙ g_s;
    - a sum h = x + f (the residuals, E[id] + P[position]): the ordinary gradient g_x = g_f = g_h gives
      R_x = x ⊙ R_h / h, the proportional split; a constant factor (1/√dk) passes relevance on unchanged.

    A token's relevance is Σ over dims of R at `embedding`. Padding keys get weight exactly 0 and the mean
    leaves padding out, so padding gets exactly 0. Rules the engine does not implement on a kind raise TypeError.
    With dtype=tf.float64 the engine computes in float64, as the NumPy reference does (tests compare them).
    """

    def __init__(self, model, rule: rules.Rule | rules.Composite | str, dtype=tf.float32):
        if isinstance(rule, str):
            if rule != INPUT_T_GRADIENT:
                raise ValueError(f"rule must be a rule spec, a composite or {INPUT_T_GRADIENT!r}, not {rule!r}")
            self._passes = _Gradient()
        else:
            self._passes = _Rules(rules.as_composite(rule))
        layers = _transformer_layers(model)
        super().__init__()
        with self.inside():
            self._build(layers, model.input_shape[1], tf.as_dtype(dtype))

    def _build(self, layers, length, dtype):
        self.ids = tf.compat.v1.placeholder(tf.int32, (None, length), name="token_ids")
        self.target_classes = tf.compat.v1.placeholder(tf.int32, (None,))
        self.real = tf.cast(tf.not_equal(self.ids, PADDING_ID), dtype)  # 1 for a token, 0 for padding
        layers = tf.nest.map_structure(
            lambda leaf: tf.constant(leaf, dtype) if isinstance(leaf, np.ndarray) else leaf, layers
        )
        self.named, self.attention_weights = {}, {}
        build = {
            "TokenAndPosition": self._embedding,
            "EncoderBlock": self._block,
            "LayerNormalization": self._layer_norm,
            "MaskedMean": self._mean,
            "Dense": self._linear,
        }
        x = self.ids
        for kind, name, weights in layers:
            x = build[kind](name, x, weights)
        self.logits = x
        explained = tf.reduce_sum(self.logits * tf.one_hot(self.target_classes, self.logits.shape[-1], dtype=dtype))
        gradients = tf.gradients(
            explained, list(self.named.values()), unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        self.relevance = {name: t * g for (name, t), g in zip(self.named.items(), gradients)}
        self.token_relevance = tf.reduce_sum(self.relevance["embedding"], axis=-1)

    def _keep(self, name, tensor):
        self.named[name] = tensor
        return tensor

    def _embedding(self, name, ids, weights):
        return self._keep(name, tf.gather(weights["tokens"], ids) + weights["positions"][None, : ids.shape[1]])

    def _linear(self, name, x, weights, axes=1):
        """x's last `axes` axes times the kernel, plus the bias."""
        return self._keep(name, self._passes.linear(name, tf.tensordot(x, weights["kernel"], axes), weights["bias"]))

    def _layer_norm(self, name, x, weights):
        centred = x - tf.reduce_mean(x, axis=-1, keepdims=True)
        sigma = tf.sqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True) + weights["epsilon"])
        normalised = centred / self._passes.normalization(name, sigma)
        return self._keep(name, self._passes.linear(name, normalised * weights["gamma"], weights["beta"]))

    def _mean(self, name, x, weights):
        real = self.real[..., None]
        mean = tf.reduce_sum(x * real, axis=1) / tf.maximum(tf.reduce_sum(real, axis=1), 1.0)
        return self._keep(name, self._passes.linear(name, mean, None))

    def _block(self, name, x, weights):
        """h = x + Attention(LayerNorm₁(x)), x′ = h + W₂ GELU(W₁ LayerNorm₂(h) + b₁) + b₂, as Keras computes it."""
        u = self._layer_norm(f"{name}_norm1", x, weights["norm1"])
        q, k, v = (self._linear(f"{name}_{part}", u, weights[part]) for part in ("query", "key", "value"))
        key_dim = weights["query"]["kernel"].shape[-1]
        q, k = self._passes.factors(f"{name}_scores", rules.SCORES, q * (1.0 / math.sqrt(key_dim)), k)
        scores = self._keep(f"{name}_scores", tf.einsum("nqhk,nshk->nhqs", q, k))
        masked = scores + (1.0 - self.real[:, None, None, :]) * MASKED
        A = self._keep(f"{name}_softmax", self._passes.softmax(f"{name}_softmax", masked))
        self.attention_weights[name] = A
        A, v = self._passes.factors(f"{name}_mixed", rules.MIXING, A, v)
        mixed = self._keep(f"{name}_mixed", tf.einsum("nhqs,nshk->nqhk", A, v))
        h = self._keep(f"{name}_residual1", x + self._linear(f"{name}_attention", mixed, weights["attention"], axes=2))
        normalised = self._layer_norm(f"{name}_norm2", h, weights["norm2"])
        hidden = self._linear(f"{name}_mlp_in", normalised, weights["mlp_in"])
        activated = self._keep(f"{name}_gelu", self._passes.activation(f"{name}_gelu", _gelu, hidden))
        return self._keep(name, h + self._linear(f"{name}_mlp_out", activated, weights["mlp_out"]))

    def explain(self, ids: np.ndarray, target="predicted", batch_size: int = 64, layers: bool = True) -> Explanation:
        """The explanation of `target` (the vocabulary of `lrp_helpers.targets`, resolved on this engine's logits):
        .input the token relevance (N, length), .layers the relevance at every named tensor (none if not `layers`)."""
        ids = np.asarray(ids, np.int32)
        logits = self._run(self.logits, ids, batch_size)
        targets = resolve_targets(target, logits)
        fetches = {"input": self.token_relevance, **(self.relevance if layers else {})}
        relevance = self._run(fetches, ids, batch_size, targets)
        return Explanation(
            input=relevance.pop("input"), layers=relevance, logits=logits[np.arange(len(ids)), targets], targets=targets
        )

    def attention(self, ids: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
        """The attention weights A of each block, by block name: (N, heads, length, length), queries by keys."""
        return self._run(self.attention_weights, np.asarray(ids, np.int32), batch_size)

    def _run(self, fetches, ids, batch_size, targets=None):
        """`fetches` (a tensor or a dict of them) batch by batch, joined."""
        parts = []
        for start in range(0, len(ids), batch_size):
            feed = {self.ids: ids[start : start + batch_size]}
            if targets is not None:
                feed[self.target_classes] = targets[start : start + batch_size]
            parts.append(self.session.run(fetches, feed))
        return tf.nest.map_structure(lambda *batches: np.concatenate(batches), *parts)
