"""The Keras layers the collection explains, in one place: which kind each linear layer is (`rules.LAYER_KINDS`,
for composites), and which layers pass values on or pool them. The Keras-reading engines (`analysis`,
`engine`) and `convert` all take their supported layers from here."""

from __future__ import annotations

from . import rules

KINDS = {
    "Dense": rules.DENSE,
    "Conv1D": rules.CONV,
    "Conv2D": rules.CONV,
    "BiasMapConv2D": rules.CONV,  # a canonized convolution (lrp_helpers.canonize)
    "BatchNormalization": rules.BATCHNORM,
}
PASS_THROUGH = {"InputLayer", "Activation", "Dropout", "Flatten"}
POOLING = {"MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D"}
SUPPORTED = set(KINDS) | PASS_THROUGH | POOLING
ACTIVATIONS = {"relu", "linear", "softmax"}


def kind(layer) -> str | None:
    """The kind of a Keras layer (`rules.LAYER_KINDS`); None for layers without weights."""
    return KINDS.get(type(layer).__name__)


def linear_layers(model) -> list[tuple[str, str]]:
    """(name, kind) of the model's linear layers, bottom up: what `rules.depth_composite` takes."""
    return [(layer.name, kind(layer)) for layer in model.layers if kind(layer) is not None]


def check_model(model, supported=SUPPORTED) -> None:
    """Raise a clear error for a layer or activation outside `supported`."""
    for layer in model.layers:
        name = type(layer).__name__
        if name not in supported:
            raise ValueError(f"Layer {layer.name!r} is a {name}; LRP here supports {', '.join(sorted(supported))}.")
        activation = layer.get_config().get("activation")
        if isinstance(activation, str) and activation not in ACTIVATIONS:
            raise ValueError(f"Layer {layer.name!r} uses activation {activation!r}; supported: relu, linear, softmax.")


def batchnorm_weights(layer) -> tuple:
    """gamma, beta, moving mean and moving variance of a BatchNormalization layer (symbolic; gamma = 1 and
    beta = 0 where the layer has none)."""
    import tensorflow as tf

    weights = list(layer.weights)
    gamma = weights.pop(0) if layer.scale else tf.ones_like(weights[0])
    beta = weights.pop(0) if layer.center else tf.zeros_like(weights[0])
    mean, variance = weights
    return gamma, beta, mean, variance


def batchnorm_as_affine(layer) -> tuple:
    """The inference-time BatchNormalization as y = scale * x + shift (symbolic tensors): the one place the
    TensorFlow engines read it (the reference reads it in NumPy, `convert`)."""
    import tensorflow as tf

    gamma, beta, mean, variance = batchnorm_weights(layer)
    scale = gamma / tf.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale
