"""Canonization is proven, not assumed: merging every BatchNorm into the next linear layer leaves
the forward pass unchanged, and on the canonized network the rules hold what their papers promise
(agreement of both engines at every layer, LRP-0 = gradient × input, conservation of z⁺ and αβ)."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import canonize, convert, data, verify
from lrp_helpers import reference as ref
from lrp_helpers.analysis import Analyzer
from lrp_helpers.canonize import CanonizationError, MergeBatchNorm

IMAGES = 32


@pytest.fixture(scope="module")
def test_set(cifar10_dir):
    return data.load_cifar10(cifar10_dir, train_size=10)


@pytest.fixture(scope="module")
def images(test_set):
    return test_set.x_test[:IMAGES]


def _logits(model, images):
    without_softmax = tf.keras.Model(model.input, model.layers[-2].output)
    return without_softmax.predict(images, batch_size=500, verbose=0)


@pytest.mark.slow
def test_canonized_keras_model_has_the_same_logits_on_2000_test_images(committed, canonized, test_set):
    """(Notebook 04's full run checks all 10,000.)"""
    assert not [layer for layer in canonized.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    x = test_set.x_test[:2000]
    expected, got = _logits(committed, x), _logits(canonized, x)
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_the_model_innvestigate_analyses_has_the_same_logits(committed, canonized, images):
    with Analyzer(canonized, ref.Epsilon(0.1)) as analyzer:
        got = analyzer.logits(images)
    expected = _logits(committed, images)
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_canonized_reference_network_has_the_same_logits(committed, test_set):
    network = convert.from_keras(committed)
    merged = MergeBatchNorm().apply(network, (32, 32, 3))
    assert not [layer for layer in merged.layers if isinstance(layer, ref.ChannelAffine)]
    x = test_set.x_test[:64]
    expected = network.logits(x)
    assert np.abs(merged.logits(x) - expected).max() <= 1e-9 * np.abs(expected).max()


def test_every_linear_layer_after_the_first_sees_only_non_negative_inputs(canonized, images):
    network = convert.from_keras(canonized)
    for layer, a in zip(network.layers, network.forward(images)):
        if layer.has_weights:
            assert a.min() >= 0, layer.name


def test_the_border_bias_is_position_dependent_and_needed(committed, canonized, images):
    """Zero padding pads the BatchNorm's output: a constant bias would be wrong at the border."""
    conv = canonized.get_layer("block1_conv2")
    kernel, bias_map = conv.get_weights()
    assert bias_map.shape == (32, 32, 32)
    interior = bias_map[1:-1, 1:-1]
    assert np.abs(interior - interior[0, 0]).max() <= 1e-5 * np.abs(interior).max()
    assert np.abs(bias_map[0, 0] - interior[0, 0]).max() > 1e-2 * np.abs(interior).max()
    conv.set_weights([kernel, np.broadcast_to(interior[0, 0], bias_map.shape)])
    try:
        error = np.abs(_logits(canonized, images) - _logits(committed, images)).max()
    finally:
        conv.set_weights([kernel, bias_map])
    assert error > 1e-3


def _tiny(batchnorm_gamma, between=()):
    """Conv -> ReLU -> BN -> (between) -> Conv -> Flatten -> Dense, with trained-looking BN statistics."""
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [
            tf.keras.Input((6, 6, 2)),
            layers.Conv2D(3, 3, padding="same", activation="relu", name="conv_a"),
            layers.BatchNormalization(name="bn"),
            *between,
            layers.Conv2D(2, 3, padding="same", name="conv_b"),
            layers.Flatten(name="flatten"),
            layers.Dense(4, name="dense"),
        ]
    )
    bn = model.get_layer("bn")
    bn.set_weights(
        [
            np.asarray(batchnorm_gamma, np.float32),
            np.array([0.3, -0.2, 0.1], np.float32),
            np.array([0.5, 1.0, 0.2], np.float32),
            np.array([2.0, 0.5, 1.5], np.float32),
        ]
    )
    return model


def test_negative_scale_is_exact_when_no_pooling_stands_in_between():
    model = _tiny([1.5, -0.7, 0.4])
    x = np.random.default_rng(0).random((8, 6, 6, 2)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(canonize.canonize(model).predict(x, verbose=0), expected, atol=1e-5)


def test_negative_scale_before_max_pooling_is_refused_naming_layer_and_channel():
    model = _tiny([1.5, -0.7, 0.4], between=[tf.keras.layers.MaxPooling2D(2, name="pool")])
    with pytest.raises(CanonizationError, match=r"'bn', channel 1: .*max-pooling 'pool'"):
        canonize.canonize(model)


def test_positive_scale_is_moved_past_max_pooling_exactly():
    model = _tiny(
        [1.5, 0.7, 0.4],
        between=[tf.keras.layers.MaxPooling2D(2, name="pool"), tf.keras.layers.Dropout(0.5, name="drop")],
    )
    x = np.random.default_rng(1).random((8, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(canonize.canonize(model).predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_batchnorm_followed_by_a_nonlinearity_is_refused():
    model = _tiny([1.5, 0.7, 0.4], between=[tf.keras.layers.Activation("relu", name="late_relu")])
    with pytest.raises(CanonizationError, match="'bn' is followed by 'late_relu'"):
        canonize.canonize(model)


def test_batchnorm_at_the_end_is_refused():
    model = tf.keras.Sequential(
        [tf.keras.Input((4,)), tf.keras.layers.Dense(3, name="d"), tf.keras.layers.BatchNormalization(name="last_bn")]
    )
    with pytest.raises(CanonizationError, match="'last_bn' is not followed"):
        canonize.canonize(model)


def test_unknown_layer_is_refused_naming_it():
    model = tf.keras.Sequential(
        [
            tf.keras.Input((6, 6, 2)),
            tf.keras.layers.AveragePooling2D(name="avg"),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(2),
        ]
    )
    with pytest.raises(ValueError, match="avg: layer type AveragePooling2D"):
        canonize.canonize(model)


# The rules as their papers define them, on the canonized network: (name, rule, tolerance of
# iNNvestigate vs the reference at every layer, relative to that layer's max |R|).
def _rules(network):
    first = network.layers[0].name
    return [
        ("LRP-0", ref.LRP0()),
        ("LRP-ε", ref.Epsilon(0.1)),
        ("LRP-ε no bias", ref.Epsilon(0.1, bias=False)),
        ("z⁺", ref.ZPlus()),
        ("LRP-γ", ref.Gamma(0.25)),
        ("α1β0", ref.AlphaBeta(1, 0)),
        ("α2β1", ref.AlphaBeta(2, 1)),
        ("zᴮ then ε", ref.Composite(ref.Epsilon(0.1), {first: ref.ZBox(0.0, 1.0)})),
        ("w² then 0", ref.Composite(ref.LRP0(), {first: ref.WSquare()})),
        ("flat then 0", ref.Composite(ref.LRP0(), {first: ref.Flat()})),
        ("depth composite", ref.depth_composite(network)),
    ]


RULE_NAMES = [name for name, _ in _rules(ref.Network([ref.Dense(np.ones((1, 1)), np.zeros(1), "d")]))]


@pytest.mark.slow
@pytest.mark.parametrize("name", RULE_NAMES)
def test_both_engines_agree_at_every_layer_on_the_canonized_network(canonized, images, name):
    network = convert.from_keras(canonized)
    rule = dict(_rules(network))[name]
    with Analyzer(canonized, rule, keep_layers=True) as analyzer:
        agreement = verify.compare(analyzer, network, rule, images)
    assert agreement.images_compared >= 16
    assert len(agreement.layers) == len(canonized.layers)
    assert agreement.worst <= 1e-4, dict(zip(agreement.layers, agreement.relative_error))


def _float64(model):
    config = model.get_config()
    for layer in config["layers"]:
        layer["config"]["dtype"] = "float64"
    copy = type(model).from_config(config)
    copy.set_weights([w.astype(np.float64) for w in model.get_weights()])
    return copy


@pytest.mark.slow
def test_lrp0_equals_gradient_times_input_on_the_canonized_network(canonized, images):
    """An exact identity on a ReLU network, biases included: checked in float64 against
    TensorFlow's own gradient, so rounding cannot hide a wrong rule."""
    network = convert.from_keras(canonized)
    targets = network.logits(images).argmax(axis=1)
    model = _float64(canonized)
    logits = model.layers[-2].output
    selected = tf.reduce_sum(logits * tf.one_hot(targets, logits.shape[-1], dtype=tf.float64))
    gradient = tf.keras.backend.function([model.input], [tf.gradients(selected, model.input)[0]])
    gradient_x_input = gradient([images.astype(np.float64)])[0] * images
    lrp0 = network.explain(images, ref.LRP0(), targets).input
    assert np.abs(lrp0 - gradient_x_input).max() <= 1e-9 * np.abs(gradient_x_input).max()
    with Analyzer(canonized, "lrp.z", native=True) as lrp, Analyzer(canonized, "input_t_gradient") as gxi:
        theirs, expected = lrp.analyze(images, targets), gxi.analyze(images, targets)
    assert np.abs(theirs - expected).max() <= 1e-4 * np.abs(expected).max()


@pytest.mark.slow
@pytest.mark.parametrize("rule", [ref.ZPlus(), ref.AlphaBeta(1, 0), ref.AlphaBeta(2, 1)], ids=repr)
def test_bias_free_rules_conserve_on_the_canonized_network_but_not_before(committed, canonized, images, rule):
    with Analyzer(canonized, rule) as after, Analyzer(committed, rule) as before:
        logits = after.logits(images).max(axis=1)
        share_after = after.analyze(images).sum(axis=(1, 2, 3)) / logits
        share_before = before.analyze(images).sum(axis=(1, 2, 3)) / logits
    np.testing.assert_allclose(share_after, 1.0, atol=1e-3)
    assert np.median(np.abs(share_before - 1)) > 0.1  # BatchNorm's shift and sign break it before


SCREENED = 400  # test images searched for first-layer neurons active through their bias alone


def test_z_plus_loses_exactly_the_relevance_of_neurons_active_through_their_bias_alone(canonized, test_set):
    """Deep Taylor derives z⁺ for neurons with bias ≤ 0. A neuron whose positive-weight inputs are all
    zero but whose positive bias makes it active gets relevance from above and has nothing to pass
    it to: z⁺ loses exactly that relevance (at the pixels, where zᴮ is the rule to use), nothing else.
    Such neurons occur in dark image regions: the first layer finds the images that have them."""
    network = convert.from_keras(canonized)
    first = next(layer for layer in network.layers if layer.has_weights)
    screened = test_set.x_test[:SCREENED]
    stranded = (first.apply(screened, np.maximum(first.weight, 0)) <= 0) & (first.forward(screened) > 0)
    x = screened[np.flatnonzero(stranded.reshape(len(screened), -1).any(axis=1))[:6]]
    assert len(x), f"no first-layer neuron is active through its bias alone in the first {SCREENED} test images"
    explanation = network.explain(x, ref.ZPlus())
    totals = ref.conservation(*explanation.by_layer())
    assert np.any(np.abs(totals.input_share - 1) > 1e-3), "none of these images loses relevance under z⁺"
    lost = np.zeros(len(x))
    for layer, a in zip(network.layers, network.forward(x)):
        if layer.has_weights:
            stranded = layer.apply(a, np.maximum(layer.weight, 0)) <= 0
            lost += np.where(stranded, explanation.layers[layer.name], 0).reshape(len(x), -1).sum(axis=1)
    scale = np.abs(totals.totals[-1]).max()
    np.testing.assert_allclose(totals.totals[-1] - totals.totals[0], lost, rtol=1e-9, atol=1e-12 * scale)
