"""Heatmap conventions, figure helpers, and rule composites."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrp_helpers import data, plotting  # noqa: E402
from lrp_helpers import reference as ref  # noqa: E402
from lrp_helpers.models import mini_vgg  # noqa: E402


def test_normalize_scales_each_map_by_its_own_max_abs():
    maps = np.array([[[1.0, -4.0]], [[0.5, 0.25]], [[0.0, 0.0]]])
    out = plotting.normalize(maps)
    np.testing.assert_allclose(out[0], [[0.25, -1.0]])
    np.testing.assert_allclose(out[1], [[1.0, 0.5]])
    np.testing.assert_allclose(out[2], 0.0)


def test_relevance_map_sums_channels():
    relevance = np.ones((2, 4, 4, 3))
    assert plotting.relevance_map(relevance).shape == (2, 4, 4)
    np.testing.assert_allclose(plotting.relevance_map(relevance), 3.0)


def test_heatmap_colour_scale_is_symmetric_and_red_means_positive():
    fig, ax = plt.subplots()
    image = plotting.show_heatmap(ax, np.array([[2.0, -1.0], [0.0, 0.5]]))
    assert image.get_clim() == (-1, 1)
    red, _, blue, _ = image.cmap(image.norm(1.0))
    assert red > 0.9 and blue < 0.1
    plt.close(fig)


def test_plot_explanations_layout():
    images = np.random.default_rng(0).random((3, 8, 8, 3))
    fig = plotting.plot_explanations(images, {"a": images - 0.5, "b": images})
    assert len(fig.axes) == 3 * 3 + 1  # a grid of 3 x (image + 2 maps) and the colour bar
    plt.close(fig)


def test_confusion_matrix_counts():
    counts = plotting.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    # Classes that never occur still get their row and column.
    np.testing.assert_array_equal(
        plotting.confusion_matrix([1, 1], [1, 2], 4), [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    )


def test_first_per_class_prefers_correct_predictions():
    labels = np.array([0, 1, 0, 1, 2])
    predictions = np.array([1, 1, 0, 0, 0])
    np.testing.assert_array_equal(data.first_per_class(labels, predictions, 3), [2, 1, 4])
    np.testing.assert_array_equal(data.first_per_class(labels, None, 3), [0, 1, 4])


def test_depth_composite_assigns_rules_by_depth():
    network = ref.from_keras(mini_vgg())
    composite = ref.depth_composite(network)
    by_name = {layer.name: type(composite.rule_for(layer)).__name__ for layer in network.layers if layer.has_weights}
    assert by_name == {
        "block1_conv1": "ZBox",
        "block1_bn1": "Epsilon",
        "block1_conv2": "Gamma",
        "block1_bn2": "Epsilon",
        "block2_conv1": "Epsilon",
        "block2_bn1": "Epsilon",
        "block2_conv2": "Epsilon",
        "block2_bn2": "Epsilon",
        "dense": "LRP0",
        "dense_bn": "Epsilon",
        "logits": "LRP0",
    }


def test_composite_picks_by_name_then_type_then_default():
    dense = ref.Dense(np.eye(2), np.zeros(2), "unnamed")
    batchnorm = ref.ChannelAffine(np.ones(2), np.zeros(2), "bn")
    composite = ref.Composite(ref.ZPlus(), {"bn": ref.Flat()}, by_type={ref.ChannelAffine: ref.WSquare()})
    assert isinstance(composite.rule_for(dense), ref.ZPlus)
    assert isinstance(composite.rule_for(batchnorm), ref.Flat)
    other_bn = ref.ChannelAffine(np.ones(2), np.zeros(2), "bn2")
    assert isinstance(composite.rule_for(other_bn), ref.WSquare)


def test_alpha_beta_must_differ_by_one():
    with pytest.raises(ValueError, match="alpha - beta must be 1"):
        ref.AlphaBeta(2, 2)


def test_gamma_favours_positive_contributions_also_for_negative_inputs():
    layer = ref.Dense(np.array([[1.0], [-1.0]]), np.zeros(1))
    a, R = np.array([[-2.0, -1.0]]), np.array([[1.0]])  # contributions -2 and +1: z = -1
    plain = ref.LRP0().relevance(layer, a, R)
    favoured = ref.Gamma(1.0).relevance(layer, a, R)  # (-2 + 0, 1 + 1) / (-1 + 1) -> z = 0: safe
    np.testing.assert_allclose(plain, [[2.0, -1.0]])
    gamma_half = ref.Gamma(0.5).relevance(layer, a, R)  # z = -1 + 0.5 = -0.5; R = (-2, 1.5) / -0.5
    np.testing.assert_allclose(gamma_half, [[4.0, -3.0]])
    assert np.all(np.isfinite(favoured))
    positive_weights = ref.Dense(np.array([[1.0], [2.0]]), np.zeros(1))
    a_pos = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(
        ref.Gamma(0.25).relevance(positive_weights, a_pos, R), ref.LRP0().relevance(positive_weights, a_pos, R)
    )
