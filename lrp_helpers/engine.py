"""Our own LRP engine in TensorFlow: every rule spec of `lrp_helpers.rules` by the gradient-times-input trick.

    with engine.Engine(model, rules.Epsilon(0.1)) as lrp:
        explanation = lrp.explain(images, target="predicted")   # .input, .layers (by name), .targets

For each linear layer the rule's four steps (notebook 03, `lrp_helpers.scratch`) run in the layer's own
TensorFlow operation, with the weights the rule asks for: z = f(a; w′) (+ stabiliser), s = R / z, and
c = ∂(f(a; w′)·s)/∂a by TensorFlow's gradient — the modified backward pass — then R = a·c. Max-pooling
hands relevance to the window's maximum (its gradient), layers that pass values on pass relevance on.

It grew from `scratch` and does what iNNvestigate cannot be made to do: its table from spec type to
implementation (`IMPLEMENTATIONS`) is where attention, LayerNorm and channel conditions will go. It reads
the model as `analysis` does (own graph, learning phase 0, softmax dropped), shares no code with the other
engines, and the tests hold it to the NumPy reference at every layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import keras_layers, rules
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
    """input: the relevance of every input value; layers: the relevance at each layer's output, by name, in
    forward order; logits: the explained logit per input; targets: the explained class per input."""

    input: np.ndarray
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    targets: np.ndarray


class Engine:
    """LRP with `rule` (a spec or composite, `lrp_helpers.rules`) on a sequential Keras model (module doc)."""

    def __init__(self, model, rule: rules.Rule | rules.Composite):
        keras_layers.check_model(model)
        self.composite = rules.as_composite(rule)
        for layer_rule in (self.composite.default, *self.composite.rules.values(), *self.composite.by_kind.values()):
            if rules.spec_type(layer_rule) not in IMPLEMENTATIONS:
                raise TypeError(f"the TensorFlow engine implements no rule {layer_rule!r}")
        config, weights = model.get_config(), model.get_weights()
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self._inside():
            tf.keras.backend.set_learning_phase(0)
            rebuilt = type(model).from_config(config)
            rebuilt.set_weights(weights)
            self._build(rebuilt)

    @contextlib.contextmanager
    def _inside(self):
        with self.graph.as_default(), self.session.as_default():
            yield

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
        R = self.logits * tf.one_hot(self.target_classes, self.logits.shape[-1], dtype=self.logits.dtype)
        relevance = {}
        for layer, a in zip(reversed(layers), reversed(activations[:-1])):
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

    def explain(self, inputs: np.ndarray, target="predicted", batch_size: int = 64) -> Explanation:
        """The explanation of `target` (the vocabulary of `lrp_helpers.targets`), resolved on this engine's logits."""
        inputs = np.asarray(inputs, np.float32)
        with self._inside():
            logits = np.concatenate(
                [
                    self.session.run(self.logits, {self.inputs: inputs[i : i + batch_size]})
                    for i in range(0, len(inputs), batch_size)
                ]
            )
            targets = resolve_targets(target, logits)
            parts = [
                self.session.run(
                    self.relevance,
                    {self.inputs: inputs[i : i + batch_size], self.target_classes: targets[i : i + batch_size]},
                )
                for i in range(0, len(inputs), batch_size)
            ]
        joined = {name: np.concatenate([part[name] for part in parts]) for name in self.relevance}
        return Explanation(
            input=joined.pop("input"),
            layers=joined,
            logits=logits[np.arange(len(inputs)), targets],
            targets=targets,
        )

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
