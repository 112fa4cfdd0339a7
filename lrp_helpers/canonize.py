"""Canonization: rewrite a network into an equivalent one on which the LRP rules' assumptions hold.

The original miniVGG puts BatchNorm *after* each ReLU (Conv -> ReLU -> BN). The layer after a
BatchNorm then receives inputs of either sign, while z⁺, αβ and γ are derived for non-negative
inputs, and iNNvestigate applies those rules to the element-wise BatchNorm itself. At inference
a BatchNorm is an affine map per channel, ``y = scale * x + shift`` (see `batchnorm_affine`), so it
can be merged into the next linear layer, giving a network of Conv/Dense -> ReLU (-> MaxPool) whose
every linear layer sees inputs >= 0 (ReLU outputs, or the pixels). `MergeBatchNorm` does this
exactly:

* BN -> Conv2D ('same' zero padding): the kernel is scaled per *input* channel,
  ``W'[..., c, :] = W[..., c, :] * scale[c]``. The shift becomes a bias, but zero padding pads the
  BatchNorm's *output* with zeros, so kernel taps that fall outside the image see no shift: the
  bias is a map ``B[h, w, :] = b + sum over the in-image taps of W * shift``, constant inside the
  image and different along the border (a `BiasMapConv2D` in Keras).
* BN -> MaxPool -> Dropout -> Conv2D, or -> Flatten -> Dense: the BatchNorm is moved past the
  pooling first. ``max(scale*x + shift) = scale*max(x) + shift`` holds only where scale > 0; a
  channel with scale <= 0 is refused with an error naming the layer and channel.
* BN -> Dropout -> Dense: ``W' = scale[:, None] * W``, ``b' = b + shift @ W`` (tiled over the
  positions after a Flatten).

The arithmetic is done once, in float64 on the NumPy reference network; the Keras model is built
from its result, and tests check both forward passes against the original model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import convert
from . import reference as ref


class CanonizationError(ValueError):
    """The network cannot be rewritten exactly; the message names the layer (and channel)."""


@tf.keras.utils.register_keras_serializable(package="lrp_helpers")
class BiasMapConv2D(tf.keras.layers.Conv2D):
    """A Conv2D whose bias depends on the position: its bias has shape (height, width, filters).

    It subclasses Conv2D, so iNNvestigate treats it as a convolution, and it keeps the bias as the
    last weight, where iNNvestigate's rules look for it (and drop it for the bias-free rules).
    """

    def __init__(self, *args, bias_shape=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.bias_shape = tuple(bias_shape)

    def build(self, input_shape):
        use_bias, self.use_bias = self.use_bias, False
        super().build(input_shape)  # the kernel only
        self.use_bias = use_bias
        if use_bias:
            self.bias = self.add_weight(name="bias", shape=self.bias_shape, initializer="zeros")

    def call(self, inputs):
        outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "bias_shape": list(self.bias_shape)}


class MergeBatchNorm:
    """Canonizer: merge every BatchNorm into the next linear layer (module docstring).

    canonizer = MergeBatchNorm()
    network = canonizer.apply(convert.from_keras(model), input_shape=(32, 32, 3))   # NumPy reference
    keras_model = canonizer.keras(model)                                        # for iNNvestigate
    """

    passes_through = (ref.Identity, ref.MaxPool2D, ref.Flatten)

    def apply(self, network: ref.Network, input_shape) -> ref.Network:
        inputs = network.forward(np.zeros((1, *input_shape)))[:-1]  # each layer's input, for shapes
        layers, pending, passed = [], None, []
        for layer, a in zip(network.layers, inputs):
            if isinstance(layer, ref.ChannelAffine):
                if pending is not None:
                    raise CanonizationError(
                        f"BatchNorm {layer.name!r} follows BatchNorm {pending.name!r}: "
                        "merge them first; only one BatchNorm per linear layer is supported"
                    )
                pending, passed = layer, []
            elif pending is None:
                layers.append(layer)
            elif isinstance(layer, self.passes_through):
                if isinstance(layer, ref.MaxPool2D):
                    self._check_positive_scale(pending, layer)
                passed.append(layer)
            elif isinstance(layer, (ref.Conv2D, ref.Dense)):
                layers.extend(passed)
                layers.append(self._merge(pending, layer, a, flattened=any(isinstance(p, ref.Flatten) for p in passed)))
                pending = None
            else:
                raise CanonizationError(
                    f"BatchNorm {pending.name!r} is followed by {layer.name!r} "
                    f"({type(layer).__name__}) before any linear layer: it cannot be merged "
                    "exactly (only Dropout, MaxPool and Flatten may stand in between)"
                )
        if pending is not None:
            raise CanonizationError(
                f"BatchNorm {pending.name!r} is not followed by a Conv2D or Dense layer to merge into"
            )
        return ref.Network(layers)

    def keras(self, model) -> tf.keras.Sequential:
        """The canonized Keras model: the same layers (names, activations, softmax) without the
        BatchNorm layers, with the merged kernels and biases."""
        input_shape = tuple(model.input_shape[1:])
        merged = {
            layer.name: layer
            for layer in self.apply(convert.from_keras(model), input_shape).layers
            if layer.has_weights
        }
        canonized = tf.keras.Sequential(name=f"{model.name}_canonized")
        canonized.add(tf.keras.Input(shape=input_shape, name=model.input_names[0]))
        assignments = []  # set in one call: in graph mode each call's cost grows with the graph
        for layer in model.layers:
            if isinstance(layer, (tf.keras.layers.InputLayer, tf.keras.layers.BatchNormalization)):
                continue
            config = layer.get_config()
            if layer.name not in merged:
                canonized.add(type(layer).from_config(config))
                continue
            new = merged[layer.name]
            if np.ndim(new.bias) > 1:
                canonized.add(BiasMapConv2D.from_config({**config, "use_bias": True, "bias_shape": new.bias.shape}))
            else:
                canonized.add(type(layer).from_config({**config, "use_bias": True}))
            values = (new.weight.astype(np.float32), new.bias.astype(np.float32))
            assignments += zip(canonized.layers[-1].weights, values)
        tf.keras.backend.batch_set_value(assignments)
        return canonized

    @staticmethod
    def _check_positive_scale(batchnorm: ref.ChannelAffine, pool: ref.MaxPool2D):
        bad = np.flatnonzero(batchnorm.weight <= 0)
        if bad.size:
            channel = int(bad[0])
            raise CanonizationError(
                f"BatchNorm {batchnorm.name!r}, channel {channel}: scale gamma/sqrt(var + eps) = "
                f"{batchnorm.weight[channel]:.4g} <= 0, so it cannot be moved past max-pooling {pool.name!r} "
                f"exactly (max(s*x) = s*min(x) for s < 0); {bad.size} channel(s) affected"
            )

    @staticmethod
    def _merge(batchnorm: ref.ChannelAffine, layer, a: np.ndarray, flattened: bool):
        scale, shift = batchnorm.weight, batchnorm.bias
        if isinstance(layer, ref.Conv2D):
            if flattened:
                raise CanonizationError(f"{layer.name!r}: a convolution after Flatten is not supported")
            kernel = layer.weight * scale[None, None, :, None]
            shift_map = np.broadcast_to(shift, (1, *a.shape[1:]))  # the BN's output shift, inside the image only
            bias_map = layer.bias + layer.apply(shift_map, layer.weight)[0]
            return ref.Conv2D(kernel, bias_map, layer.name)
        repeats = layer.weight.shape[0] // scale.size  # positions flattened into the dense input (NHWC order)
        scale, shift = np.tile(scale, repeats), np.tile(shift, repeats)
        return ref.Dense(scale[:, None] * layer.weight, layer.bias + shift @ layer.weight, layer.name)


def canonize(model) -> tf.keras.Sequential:
    """The model with every BatchNorm merged into the next linear layer (`MergeBatchNorm`)."""
    return MergeBatchNorm().keras(model)
