"""A trained Keras model as a network of the NumPy reference (`lrp_helpers.reference`).

    network = convert.from_keras(model)     # its weights read once, as float64 NumPy arrays
    transformer = convert.from_keras_transformer(model)     # notebook 10's text_transformer

Everything after the read is NumPy: the reference itself never sees TensorFlow. Layers the reference does not
implement are refused with an error that names them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .reference import (
    ChannelAffine,
    Conv1D,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    GlobalMaxPool1D,
    Identity,
    Layer,
    MaxPool1D,
    MaxPool2D,
    Network,
    ReLU,
)
from .reference.transformer import Block, Transformer


def sequence_layers_from_keras(layer) -> list[Layer]:
    """The reference layers for a Keras Embedding, Conv1D or GlobalMaxPooling1D layer."""
    kind, name, weights, config = type(layer).__name__, layer.name, layer.get_weights(), layer.get_config()
    if kind in ("Embedding", "PaddedEmbedding"):
        return [Embedding(weights[0].astype(np.float64), name, config.get("padding_id"))]
    if kind == "GlobalMaxPooling1D":
        if config.get("keepdims"):
            raise ValueError(f"{name}: the reference supports keepdims=False only")
        return [GlobalMaxPool1D(name)]
    if config["strides"] != (1,) or config["dilation_rate"] != (1,) or config["padding"] not in ("same", "valid"):
        raise ValueError(f"{name}: the reference supports stride 1, no dilation, 'same' or 'valid' padding only")
    bias = weights[1] if config["use_bias"] else np.zeros(weights[0].shape[-1])
    layers: list[Layer] = [Conv1D(weights[0].astype(np.float64), bias.astype(np.float64), name, config["padding"])]
    if config["activation"] == "relu":
        layers.append(ReLU(f"{name}_relu"))
    elif config["activation"] != "linear":
        raise ValueError(f"{name}: unsupported activation {config['activation']!r}")
    return layers


SEQUENCE_LAYER_KINDS = ("Embedding", "PaddedEmbedding", "Conv1D", "GlobalMaxPooling1D")


def _read_all(keras_layers) -> list[np.ndarray]:
    return tf.keras.backend.batch_get_value([weight for layer in keras_layers for weight in layer.weights])


def from_keras(model) -> Network:
    """Convert a sequential Keras model made of Conv1D, Conv2D, Dense, ReLU, BatchNormalization, MaxPooling1D,
    MaxPooling2D, Dropout, Flatten, Embedding and GlobalMaxPooling1D layers. The final softmax is dropped."""
    layers: list[Layer] = []
    keras_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    # All weights in one read: in graph mode every read costs time that grows with the graph's size.
    values = iter(_read_all(keras_layers))
    for position, layer in enumerate(keras_layers):
        kind, name, weights = type(layer).__name__, layer.name, [next(values) for _ in layer.weights]
        config = layer.get_config()
        activation = config.get("activation", "linear")
        if kind in ("Conv2D", "BiasMapConv2D", "Dense"):
            if kind != "Dense" and (
                config["strides"] != (1, 1) or config["padding"] != "same" or config["dilation_rate"] != (1, 1)
            ):
                raise ValueError(f"{name}: the reference supports stride 1, 'same' padding only")
            bias = weights[1] if config["use_bias"] else np.zeros(weights[0].shape[-1])
            cls = Dense if kind == "Dense" else Conv2D
            layers.append(cls(weights[0].astype(np.float64), bias.astype(np.float64), name))
            if activation == "relu":
                layers.append(ReLU(f"{name}_relu"))
            elif activation not in ("linear", "softmax") or (
                activation == "softmax" and position != len(keras_layers) - 1
            ):
                raise ValueError(f"{name}: unsupported activation {activation!r}")
        elif kind == "Activation":
            if activation == "relu":
                layers.append(ReLU(name))
            elif activation == "softmax" and position == len(keras_layers) - 1:
                continue
            elif activation != "linear":
                raise ValueError(f"{name}: unsupported activation {activation!r}")
        elif kind == "BatchNormalization":
            gamma = weights.pop(0) if config["scale"] else 1.0
            beta = weights.pop(0) if config["center"] else 0.0
            mean, variance = weights
            layers.append(ChannelAffine.from_batchnorm(gamma, beta, mean, variance, config["epsilon"], name))
        elif kind == "MaxPooling1D":
            if config["pool_size"] != config["strides"] or config["padding"] != "valid":
                raise ValueError(f"{name}: the reference supports non-overlapping, 'valid' pooling only")
            layers.append(MaxPool1D(config["pool_size"][0], name))
        elif kind == "MaxPooling2D":
            if config["pool_size"] != config["strides"] or config["pool_size"][0] != config["pool_size"][1]:
                raise ValueError(f"{name}: the reference supports square, non-overlapping pooling only")
            layers.append(MaxPool2D(config["pool_size"][0], name))
        elif kind == "Dropout":
            layers.append(Identity(name))
        elif kind == "Flatten":
            layers.append(Flatten(name))
        elif kind in SEQUENCE_LAYER_KINDS:
            layers += sequence_layers_from_keras(layer)
        else:
            raise ValueError(f"{name}: layer type {kind} is not supported by the reference LRP")
    return Network(layers)


TRANSFORMER_TOP = ["LayerNormalization", "MaskedMean", "Dense", "Activation"]  # final_norm, pool, logits, softmax


def _weights_by_name(keras_layers) -> list[dict[str, np.ndarray]]:
    """Each layer's weights as float64, by their names inside the layer ("norm1/gamma", "attention/query/kernel")."""
    values = iter(_read_all(keras_layers))
    return [
        {weight.name.split(":")[0].split("/", 1)[1]: np.asarray(next(values), np.float64) for weight in layer.weights}
        for layer in keras_layers
    ]


# Where each of the reference Block's linear maps is inside a Keras EncoderBlock.
BLOCK_DENSE = {
    "query": "attention/query", "key": "attention/key", "value": "attention/value",
    "output": "attention/attention_output", "mlp_in": "mlp_in", "mlp_out": "mlp_out",
}  # fmt: skip


def _block(name: str, w: dict[str, np.ndarray]) -> Block:
    """An EncoderBlock's weights (by their names inside it) as the reference's Block."""
    norms = {f"{norm}_{part}": w[f"{norm}/{part}"] for norm in ("norm1", "norm2") for part in ("gamma", "beta")}
    weights = {f"{part}_weight": w[f"{path}/kernel"] for part, path in BLOCK_DENSE.items()}
    biases = {f"{part}_bias": w[f"{path}/bias"] for part, path in BLOCK_DENSE.items()}
    return Block(name, **norms, **weights, **biases)


def from_keras_transformer(model) -> Transformer:
    """Convert `lrp_helpers.transformer.text_transformer` (TokenAndPosition, EncoderBlocks, LayerNormalization,
    MaskedMean, Dense, softmax) into the reference's `Transformer`. The final softmax is dropped."""
    keras_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    kinds = [type(layer).__name__ for layer in keras_layers]
    blocks = keras_layers[1 : -len(TRANSFORMER_TOP)]
    if kinds != ["TokenAndPosition", *["EncoderBlock"] * len(blocks), *TRANSFORMER_TOP]:
        raise ValueError(
            f"{model.name} is not a text_transformer: expected TokenAndPosition, EncoderBlocks, "
            f"{', '.join(TRANSFORMER_TOP)}; got {', '.join(kinds)}"
        )
    final_norm, logits = keras_layers[-4], keras_layers[-2]
    epsilons = {final_norm.epsilon} | {norm.epsilon for block in blocks for norm in (block.norm1, block.norm2)}
    if len(epsilons) != 1:
        raise ValueError(f"{model.name}: the reference needs one ε for every LayerNorm, got {sorted(epsilons)}")
    if logits.get_config()["activation"] != "linear":
        raise ValueError(f"{model.name}: the logits layer must be linear (the softmax is a layer of its own)")
    weights = _weights_by_name(keras_layers)
    return Transformer(
        weights[0]["tokens"],
        weights[0]["positions"],
        [_block(block.name, w) for block, w in zip(blocks, weights[1:])],
        weights[-4]["gamma"],
        weights[-4]["beta"],
        weights[-2]["kernel"],
        weights[-2]["bias"],
        norm_epsilon=epsilons.pop(),
    )
