"""The measures of notebook 11 (`lrp_helpers.concepts`): by hand on a network whose relevance is its activations,
and on the committed miniVGG against the NumPy reference."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import concepts, convert, engine, models, rules, verify

LRP0 = rules.Epsilon(0.0)
# Two 2×2 one-colour images: A has all its value in one pixel, B spreads twice as much over four.
A = np.array([[4.0, 0.0], [0.0, 0.0]])
B = np.full((2, 2), 2.0)
IMAGES = np.stack([A, B])[..., None]


def _activations_are_relevance():
    """conv: two 1×1 channels, x and 2x; out = the sum of both over the positions. With LRP-0, no biases and
    weights 1 above it, the relevance at conv is its activation, and the input relevance through channel c is
    c's activation divided by its weight: x through channel 0, 2x through channel 1."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input((2, 2, 1)),
            tf.keras.layers.Conv2D(2, 1, use_bias=False, name="conv"),
            tf.keras.layers.Flatten(name="flatten"),
            tf.keras.layers.Dense(1, use_bias=False, name="out"),
        ]
    )
    model.layers[0].set_weights([np.array([1.0, 2.0]).reshape(1, 1, 1, 2)])
    model.layers[2].set_weights([np.ones((8, 1))])
    return model


@pytest.fixture(scope="module")
def small():
    model = _activations_are_relevance()
    with engine.Engine(model, LRP0) as lrp:
        yield model, lrp


def test_channel_relevance_and_activation_by_hand(small):
    """A: channel sums 4 and 8, maxima 4 and 8; B: sums 8 and 16, maxima 2 and 4."""
    measured = concepts.measure(small[1], IMAGES, "conv", target=0)
    np.testing.assert_allclose(measured.relevance, [[4, 8], [8, 16]], rtol=1e-6)
    np.testing.assert_allclose(measured.activation, [[4, 8], [2, 4]], rtol=1e-6)
    np.testing.assert_allclose(measured.logits, [12, 24], rtol=1e-6)


def test_relevance_scores_by_hand():
    relevance = np.array([[1.0, -3.0], [0.0, 0.0]])
    np.testing.assert_array_equal(concepts.relevance_scores(relevance), relevance)
    np.testing.assert_array_equal(concepts.relevance_scores(relevance, normalise=True), [[0.25, -0.75], [0, 0]])


def test_the_largest_scores_by_hand():
    scores = np.array([[1.0, 5.0, 5.0], [3.0, 0.0, 2.0]])  # two images, three channels
    np.testing.assert_array_equal(concepts.top_channels(scores, 2), [[1, 2], [0, 2]])  # a tie: the lower first
    np.testing.assert_array_equal(concepts.top_images(scores, 1), [[1], [0], [0]])
    with pytest.raises(ValueError, match="k must be between 1 and 3, got 4"):
        concepts.top_channels(scores, 4)


def test_shared_share_by_hand():
    np.testing.assert_array_equal(
        concepts.shared_share(np.array([[1, 2], [3, 4]]), np.array([[2, 9], [5, 6]])), [0.5, 0]
    )


def test_crop_box_by_hand():
    heatmap = np.zeros((6, 8))
    heatmap[1, 2], heatmap[3, 5], heatmap[4, 1] = 10.0, 2.0, 0.5  # 0.5 is below 0.1 × 10
    assert concepts.crop_box(heatmap) == (1, 4, 2, 6)
    assert concepts.crop_box(heatmap, threshold=0.01) == (1, 5, 1, 6)
    assert concepts.crop_box(-heatmap) == (0, 6, 0, 8)  # nothing positive: the whole image
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\), got 1"):
        concepts.crop_box(heatmap, threshold=1)


def test_conditional_heatmaps_by_hand(small):
    """B through channel 0 is B, through channel 1 is 2B; A through channel 1 is 2A."""
    maps = concepts.conditional_heatmaps(small[1], IMAGES[[1, 1, 0]], "conv", [0, 1, 1], target=0)
    np.testing.assert_allclose(maps, [B, 2 * B, 2 * A], rtol=1e-6)
    with pytest.raises(ValueError, match=r"'conv' has channels 0..1; the condition asks for \[2\]"):
        concepts.conditional_heatmaps(small[1], IMAGES, "conv", [0, 2])
    with pytest.raises(ValueError, match="give one channel index per image"):
        concepts.conditional_heatmaps(small[1], IMAGES, "conv", [0])


def test_the_atlas_by_hand(small):
    """For both channels B has the most relevance (sum) and A the largest activation (maximum), so RelMax and
    ActMax share nothing. B's map covers all of it, A's only its top-left pixel."""
    atlas = concepts.concept_atlas(small[1], IMAGES, np.zeros(2, int), "conv", k=1)
    np.testing.assert_array_equal(atlas.by_relevance, [[1], [1]])
    np.testing.assert_array_equal(atlas.by_activation, [[0], [0]])
    np.testing.assert_array_equal(atlas.shared(), [0, 0])
    np.testing.assert_allclose(atlas.relevance_maps[:, 0], [B, 2 * B], rtol=1e-6)
    np.testing.assert_array_equal(atlas.relevance_boxes[:, 0], [[0, 2, 0, 2], [0, 2, 0, 2]])
    np.testing.assert_array_equal(atlas.activation_boxes[:, 0], [[0, 1, 0, 1], [0, 1, 0, 1]])
    one = concepts.concept_atlas(small[1], IMAGES, np.zeros(2, int), "conv", k=2, channels=[1])
    np.testing.assert_array_equal(one.channels, [1])
    np.testing.assert_array_equal(one.by_relevance, [[1, 0]])


def test_switching_channels_off_by_hand(small):
    """Without channel 1 the output is the sum of x alone: 4 for A (of 12), 8 for B (of 24)."""
    with concepts.Switch(small[0], "conv") as switch:
        np.testing.assert_allclose(switch.logits(IMAGES), [[12], [24]], rtol=1e-6)
        np.testing.assert_allclose(switch.logits(IMAGES, [1]), [[4], [8]], rtol=1e-6)
        np.testing.assert_allclose(switch.logits(IMAGES, np.array([[True, False], [False, True]])), [[8], [8]])
        np.testing.assert_allclose(switch.logit_drop(IMAGES, [0, 1], target=0), [12, 24], rtol=1e-6)
    with pytest.raises(ValueError, match="the model has no layer 'conv9'; choose among conv, flatten, out"):
        concepts.Switch(small[0], "conv9")


# The committed miniVGG.


@pytest.fixture(scope="module")
def images(cifar10_dir, committed):
    """Six test images without a max-pooling near-tie that float32 could flip (`verify.ambiguous_images`)."""
    from lrp_helpers import data

    x = data.load_cifar10(cifar10_dir, train_size=10, test_size=100).x_test[:12]
    return x[~verify.ambiguous_images(convert.from_keras(committed), x)][:6]


@pytest.fixture(scope="module")
def by_reference(committed, images):
    return convert.from_keras(committed).explain(images, rules.Epsilon(0.1))


@pytest.mark.parametrize("layer", ["block2_conv2", "dense"])
def test_channel_relevance_and_activation_agree_with_the_reference_and_keras(committed, images, by_reference, layer):
    with engine.Engine(committed, rules.Epsilon(0.1)) as lrp:
        measured = concepts.measure(lrp, images, layer, batch_size=4)
    np.testing.assert_array_equal(measured.targets, by_reference.targets)
    expected = by_reference.layers[layer]
    per_channel = expected.reshape(len(images), -1, expected.shape[-1]).sum(axis=1)
    assert np.abs(measured.relevance - per_channel).max() <= 1e-4 * np.abs(per_channel).max()
    output = tf.keras.Model(committed.inputs, committed.get_layer(layer).output).predict(images, verbose=0)
    maxima = output.reshape(len(images), -1, output.shape[-1]).max(axis=1)
    np.testing.assert_allclose(measured.activation, maxima, rtol=1e-5, atol=1e-5)


def test_a_switch_with_nothing_off_is_the_model(committed, images):
    with concepts.Switch(committed, "block2_conv2") as switch:
        np.testing.assert_allclose(switch.logits(images), models.logits(committed, images), rtol=1e-5, atol=1e-5)
        everything_off = switch.logits(images, np.ones((len(images), 64), bool))
    assert np.ptp(everything_off, axis=0).max() < 1e-5  # nothing of the image passes block2_conv2 any more


def test_crops_by_hand():
    images = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    cut = concepts.crops(images, np.array([[1, 0]]), np.array([[[0, 2, 1, 3], [3, 4, 0, 4]]]))
    np.testing.assert_array_equal(cut[0][0], [[17, 18], [21, 22]])
    np.testing.assert_array_equal(cut[0][1], [[12, 13, 14, 15]])
