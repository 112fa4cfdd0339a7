"""LRP from scratch: LRP-0, LRP-ε and LRP-γ in a few lines of TensorFlow.

Every rule is computed with the four steps of Montavon et al. (2019): forward, divide, backward,
multiply; TensorFlow's gradient does the backward step. Notebook 03 teaches this code in cells marked
`# @save`, and a test keeps those cells identical to this file. The tests check it against iNNvestigate
and the NumPy reference (`lrp_helpers.reference`).

It handles what the miniVGG is made of: Conv2D and Dense layers (canonized ones too, whose bias is a
map), BatchNormalization as the per-channel affine map it computes at inference, max-pooling, and
layers that pass values on or reshape them (ReLU, Dropout, Flatten). It works in graph mode, as
iNNvestigate does (`lrp_helpers.setup_notebook`).
"""

import tensorflow as tf


def linear_part(layer, a, modify):
    """The layer's affine map z = a·w + b, with its weights and bias changed by `modify`."""
    if isinstance(layer, tf.keras.layers.BatchNormalization):  # y = scale·x + shift, per channel
        gamma, beta, mean, variance = layer.weights
        scale = gamma / tf.sqrt(variance + layer.epsilon)
        return a * modify(scale) + modify(beta - mean * scale)
    w, b = modify(layer.kernel), modify(layer.bias)
    if isinstance(layer, tf.keras.layers.Dense):
        return tf.matmul(a, w) + b
    return tf.nn.conv2d(a, w, strides=layer.strides, padding=layer.padding.upper()) + b


def lrp(model, epsilon=0.0, gamma=0.0):
    """LRP-0 (the default), LRP-ε or LRP-γ in every layer of a Sequential model that ends in a softmax.
    Returns a function: [images, one target class per image] -> [relevance of every input value]."""

    def modify(w):  # LRP-γ: w + γw⁺ (γ = 0 keeps w)
        return w + gamma * tf.nn.relu(w)

    images, targets = model.inputs[0], tf.compat.v1.placeholder(tf.int32, [None])
    activations = [images]
    for layer in model.layers[:-1]:  # the forward pass, up to the logits
        activations.append(layer(activations[-1]))
    R = activations[-1] * tf.one_hot(targets, model.output_shape[-1])  # the explained logit
    for layer, a in zip(model.layers[-2::-1], activations[-2::-1]):  # top down
        if layer.weights:  # Conv2D, Dense, BatchNorm
            z = linear_part(layer, a, modify)  # 1. forward
            denominator = z + epsilon * tf.where(z >= 0, 1.0, -1.0)
        elif isinstance(layer, tf.keras.layers.MaxPooling2D):
            z = denominator = layer(a)
        else:  # ReLU, Dropout, Flatten: the relevance passes on unchanged
            R = tf.reshape(R, tf.shape(a))
            continue
        s = tf.math.divide_no_nan(R, denominator)  # 2. divide
        c = tf.gradients(z, a, grad_ys=s)[0]  # 3. backward
        R = a * c  # 4. multiply
    return tf.keras.backend.function([images, targets], [R])
