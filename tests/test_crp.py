"""Conditional relevance (Concept Relevance Propagation, Achtibat et al. 2023) in the NumPy reference and in our
TensorFlow engine: by hand on a two-layer network, completeness (the conditional explanations of a layer's
channels add up to the unconditional one) for every rule, the engine against the reference at every layer under
a condition on the committed miniVGG, conditions on two layers, and clear errors for a condition that cannot be."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import convert, engine, keras_layers, methods, rules, verify
from lrp_helpers import reference as ref

TOLERANCE = 1e-4  # of the largest |relevance| at each layer, as tests/test_engine.py
LRP_METHODS = [
    (name, value) for name, method in methods.REGISTRY.items() if method.is_lrp for value in method.values or (None,)
]


@pytest.fixture(scope="module")
def images(cifar10_dir):
    from lrp_helpers import data

    return data.load_cifar10(cifar10_dir, train_size=10, test_size=100).x_test[:24]


def _two_layer_model():
    """hidden = (x1, x1 + x2), out = hidden1 + hidden2, no biases: for x = (1, 2), hidden = (1, 3), out = 4."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input((2,)),
            tf.keras.layers.Dense(2, use_bias=False, name="hidden"),
            tf.keras.layers.Dense(1, use_bias=False, name="out"),
        ]
    )
    model.layers[0].set_weights([np.array([[1.0, 1.0], [0.0, 1.0]])])
    model.layers[1].set_weights([np.ones((2, 1))])
    return model


def test_conditional_relevance_by_hand():
    """LRP-0 at x = (1, 2): R(hidden) = (1, 3). Through hidden unit 0 alone (weights 1, 0 from x) the input gets
    (1, 0); through unit 1 (z = 3, R = 3) it gets (1·1/3·3, 2·1/3·3) = (1, 2); together (2, 2), the unconditional."""
    model, x = _two_layer_model(), np.array([[1.0, 2.0]])
    network = convert.from_keras(model)
    expected = {0: [[1.0, 0.0]], 1: [[1.0, 2.0]]}
    with engine.Engine(model, rules.Epsilon(0.0)) as ours:
        for unit, input_relevance in expected.items():
            theirs = network.explain(x, rules.Epsilon(0.0), 0, {"hidden": [unit]})
            np.testing.assert_allclose(theirs.input, input_relevance, rtol=1e-12)
            np.testing.assert_allclose(theirs.layers["hidden"], [[1.0, 0.0]] if unit == 0 else [[0.0, 3.0]])
            np.testing.assert_allclose(ours.explain(x, 0, condition={"hidden": [unit]}).input, input_relevance, 1e-6)
        np.testing.assert_allclose(network.explain(x, rules.Epsilon(0.0), 0).input, [[2.0, 2.0]], rtol=1e-12)


def _small_cnn(seed=0) -> ref.Network:
    """A random network of the miniVGG's kinds of layers, small enough to condition on every channel quickly."""
    rng = np.random.default_rng(seed)
    return ref.Network(
        [
            ref.Conv2D(rng.normal(size=(3, 3, 3, 4)), rng.normal(size=4), "conv1"),
            ref.ReLU("relu1"),
            ref.ChannelAffine(rng.uniform(0.5, 2.0, 4), rng.normal(size=4), "bn1"),
            ref.MaxPool2D(2, "pool"),
            ref.Conv2D(rng.normal(size=(3, 3, 4, 6)), rng.normal(size=6), "conv2"),
            ref.ReLU("relu2"),
            ref.Flatten("flatten"),
            ref.Dense(rng.normal(size=(96, 5)), rng.normal(size=5), "dense"),
            ref.ReLU("dense_relu"),
            ref.Dense(rng.normal(size=(5, 3)), rng.normal(size=3), "logits"),
        ]
    )


def _per_channel(network, x, rule, layer, count):
    """The explanation of each image through each channel of `layer` alone: one row per (image, channel)."""
    pairs = np.repeat(x, count, axis=0)
    chosen = np.tile(np.eye(count, dtype=bool), (len(x), 1))
    targets = np.repeat(network.explain(x, rule).targets, count)
    return network.explain(pairs, rule, targets, {layer: chosen})


@pytest.mark.parametrize("name, value", LRP_METHODS, ids=[f"{n}{'' if v is None else v}" for n, v in LRP_METHODS])
@pytest.mark.parametrize("layer, count", [("conv2", 6), ("bn1", 4), ("dense", 5)])
def test_the_channels_of_a_layer_add_up_to_the_unconditional_explanation(name, value, layer, count):
    network = _small_cnn()
    rule = methods.get(name).spec(value, ref.linear_layers(network))
    x = np.random.default_rng(1).uniform(size=(3, 8, 8, 3))
    whole = network.explain(x, rule)
    split = _per_channel(network, x, rule, layer, count)
    below = list(whole.layers)[: list(whole.layers).index(layer)]
    for name_below, relevance in [("input", whole.input), *((n, whole.layers[n]) for n in below)]:
        parts = split.input if name_below == "input" else split.layers[name_below]
        summed = parts.reshape(len(x), count, *relevance.shape[1:]).sum(axis=1)
        np.testing.assert_allclose(summed, relevance, atol=1e-10 * np.abs(relevance).max(), err_msg=name_below)
    assert not np.allclose(split.input[0], whole.input[0])  # one channel's share is not the whole


def test_a_condition_masks_its_layer_and_leaves_the_layers_above():
    network, rule = _small_cnn(), rules.Epsilon(0.1)
    x = np.random.default_rng(2).uniform(size=(2, 8, 8, 3))
    whole, through = network.explain(x, rule), network.explain(x, rule, None, {"conv2": [1, 4]})
    for name in ("relu2", "flatten", "dense", "logits"):
        np.testing.assert_array_equal(through.layers[name], whole.layers[name])
    kept = np.zeros(6)
    kept[[1, 4]] = 1
    np.testing.assert_array_equal(through.layers["conv2"], whole.layers["conv2"] * kept)


def test_a_condition_at_a_residual_connection_is_complete_and_one_inside_it_is_refused():
    rng = np.random.default_rng(0)
    block = [ref.Dense(rng.normal(size=(4, 4)), rng.normal(size=4), "inner"), ref.ReLU("inner_relu")]
    network = ref.Network(
        [ref.Dense(rng.normal(size=(3, 4)), rng.normal(size=4), "first"), ref.Residual(block, "skip"),
         ref.Dense(rng.normal(size=(4, 2)), rng.normal(size=2), "logits")]
    )  # fmt: skip
    x, rule = rng.normal(size=(5, 3)), rules.Epsilon(0.1)
    summed = _per_channel(network, x, rule, "skip", 4).input.reshape(5, 4, 3).sum(axis=1)
    np.testing.assert_allclose(summed, network.explain(x, rule).input, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"names \['inner'\], which is not a layer this network can condition on"):
        network.explain(x, rule, None, {"inner": [0]})


# The committed miniVGG: the engine against the reference, under conditions.

RULE = rules.Epsilon(0.1)


@pytest.fixture(scope="module")
def network(committed):
    return convert.from_keras(committed)


@pytest.fixture(scope="module")
def clear(network, images):
    """Six images without a max-pooling near-tie that float32 could flip (`verify.ambiguous_images`)."""
    return images[~verify.ambiguous_images(network, images)][:6]


@pytest.fixture(scope="module")
def unconditional(network, clear):
    return network.explain(clear, RULE)


@pytest.fixture(scope="module")
def lrp(committed):
    with engine.Engine(committed, RULE) as ours:
        yield ours


def _channel_totals(explanation, layer) -> np.ndarray:
    """|Σ over positions of the relevance| of each image and channel of `layer`, (N, C)."""
    relevance = explanation.layers[layer]
    return np.abs(relevance.reshape(len(relevance), -1, relevance.shape[-1]).sum(axis=1))


def _most_relevant(explanation, layer, count) -> list[int]:
    """The `count` channels of `layer` with the most relevance over the images: a condition that keeps relevance."""
    return np.argsort(-_channel_totals(explanation, layer).sum(axis=0))[:count].tolist()


def _own_channel(explanation, layer) -> np.ndarray:
    """Booleans (N, C): each image's most relevant channel of `layer`, a condition of its own per image."""
    totals = _channel_totals(explanation, layer)
    return np.eye(totals.shape[1], dtype=bool)[totals.argmax(axis=1)]


CONDITIONS = {
    "block2_conv2": lambda whole: {"block2_conv2": _most_relevant(whole, "block2_conv2", 3)},
    "dense": lambda whole: {"dense": _most_relevant(whole, "dense", 5)},
    "dense and block1_conv2": lambda whole: {
        "dense": _most_relevant(whole, "dense", 20),
        "block1_conv2": _most_relevant(whole, "block1_conv2", 4),
    },
    "a channel per image": lambda whole: {"block2_conv1": _own_channel(whole, "block2_conv1")},
}


def _agreement_under(ours, network, x, rule, condition) -> dict[str, float]:
    """Largest |engine − reference| at the input and every layer, relative to the layer's largest |relevance|."""
    explained = ours.explain(x, condition=condition)
    expected = network.explain(x, rule, explained.targets, condition)
    errors = {"input": np.abs(explained.input - expected.input).max() / np.abs(expected.input).max()}
    for name, relevance in explained.layers.items():
        errors[name] = np.abs(relevance - expected.layers[name]).max() / np.abs(expected.layers[name]).max()
    assert len(errors) == len(network.layers) + 1 and len(x) >= 4, (sorted(errors), len(x))
    return errors


@pytest.mark.parametrize("condition", sorted(CONDITIONS))
def test_the_engine_agrees_with_the_reference_under_a_condition(lrp, network, clear, unconditional, condition):
    errors = _agreement_under(lrp, network, clear, RULE, CONDITIONS[condition](unconditional))
    assert max(errors.values()) <= TOLERANCE, errors


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, value", [("lrp.composite", None), ("lrp.conv_alpha_beta", 1.0), ("lrp.gamma", 0.25), ("lrp.flat", None)]
)
def test_the_engine_agrees_with_the_reference_under_a_condition_for_composites(
    canonized, clear, unconditional, name, value
):
    rule = methods.get(name).spec(value, keras_layers.linear_layers(canonized))
    network = convert.from_keras(canonized)
    condition = CONDITIONS["block2_conv2"](unconditional)  # channels that carry LRP-ε's relevance carry these rules'
    with engine.Engine(canonized, rule) as ours:
        errors = _agreement_under(ours, network, clear, rule, condition)
    assert max(errors.values()) <= TOLERANCE, errors


def test_the_channels_of_block2_conv2_add_up_to_the_unconditional_map_in_both_engines(
    lrp, network, clear, unconditional
):
    """The engine: every one of the 64 channels, as (image, channel) pairs in one batch. The reference (float64,
    slower): the 64 channels in four groups of 16, which the same linearity must add up."""
    x, whole = clear[:2], unconditional.input[:2]
    targets = unconditional.targets[:2]
    pairs, chosen = np.repeat(x, 64, axis=0), np.tile(np.eye(64, dtype=bool), (2, 1))
    split = lrp.explain(pairs, np.repeat(targets, 64), condition={"block2_conv2": chosen}, at=["input"])
    scale = np.abs(whole).max()
    assert np.abs(split.input.reshape(2, 64, 32, 32, 3).sum(axis=1) - whole).max() <= TOLERANCE * scale
    groups = np.tile(np.repeat(np.eye(4, dtype=bool), 16, axis=1), (2, 1))  # group g: channels 16g .. 16g + 15
    grouped = network.explain(np.repeat(x, 4, axis=0), RULE, np.repeat(targets, 4), {"block2_conv2": groups})
    np.testing.assert_allclose(grouped.input.reshape(2, 4, 32, 32, 3).sum(axis=1), whole, atol=1e-12 * scale)


def test_a_layer_above_with_every_channel_below_is_the_layer_above_alone(lrp, network, clear, unconditional):
    """Conditions on two layers: the units of dense, then every channel of block2_conv2 one by one, add up to
    dense's units alone; and the order in which a condition names its layers does not matter."""
    x, target = clear[:1], unconditional.targets[0]
    units = _most_relevant(unconditional, "dense", 10)
    above = network.explain(x, RULE, target, {"dense": units}).input[0]
    below = {"dense": units, "block2_conv2": np.eye(64, dtype=bool)}
    both = lrp.explain(np.repeat(x, 64, axis=0), target, condition=below).input
    reversed_order = lrp.explain(x, target, condition={"block2_conv2": [5], "dense": units}).input[0]
    np.testing.assert_allclose(both.sum(axis=0), above, atol=TOLERANCE * np.abs(above).max())
    np.testing.assert_allclose(reversed_order, both[5], atol=1e-6 * np.abs(both[5]).max())


@pytest.mark.parametrize(
    "condition, message",
    [
        ({"block3_conv1": [0]}, r"names \['block3_conv1'\], which is not a layer this network can condition on"),
        ({"block2_conv2": [64]}, r"'block2_conv2' has channels 0..63; the condition asks for \[64\]"),
        ({"block2_conv2": [-1, 2]}, r"'block2_conv2' has channels 0..63; the condition asks for \[-1\]"),
        ({"block2_conv2": []}, "must be a non-empty list of channel indices"),
        ({"dense": np.ones((3, 512), bool)}, r"must have one row per image and one column per channel: \(2, 512\)"),
    ],
)
def test_a_condition_that_cannot_be_fails_clearly_in_both_engines(lrp, network, clear, condition, message):
    with pytest.raises(ValueError, match=message):
        network.explain(clear[:2], RULE, None, condition)
    with pytest.raises(ValueError, match=message):
        lrp.explain(clear[:2], condition=condition)


def test_the_engine_computes_only_the_relevance_asked_for(lrp, clear):
    whole = lrp.explain(clear[:4])
    part = lrp.explain(clear[:4], at=["block2_conv2"])
    with pytest.raises(ValueError, match="no relevance called 'block9'; choose among input, block1_conv1"):
        lrp.explain(clear[:4], at=["block9"])
    assert part.input is None and list(part.layers) == ["block2_conv2"]
    np.testing.assert_allclose(part.layers["block2_conv2"], whole.layers["block2_conv2"], rtol=1e-6)


def test_the_check_can_fail(committed, network, clear, unconditional, monkeypatch):
    """An engine that ignored the condition's mask would disagree with the reference."""
    masking = engine.Engine._channel_mask
    monkeypatch.setattr(engine.Engine, "_channel_mask", lambda self, name, output: 1 + 0 * masking(self, name, output))
    condition = CONDITIONS["block2_conv2"](unconditional)
    with engine.Engine(committed, RULE) as ours:
        assert max(_agreement_under(ours, network, clear, RULE, condition).values()) > TOLERANCE
