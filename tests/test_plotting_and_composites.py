"""Heatmap conventions, figure helpers, and rule composites."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrp_helpers import analysis, convert, data, plotting, rules  # noqa: E402
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
    network = convert.from_keras(mini_vgg())
    composite = ref.depth_composite(network)
    by_name = {name: composite.rule_for(name, kind) for name, kind in ref.linear_layers(network)}
    middle, batchnorm = rules.Epsilon(0.25), rules.Epsilon(rules.BATCHNORM_EPSILON)
    assert by_name == {
        "block1_conv1": rules.ZBox(0.0, 1.0),
        "block1_bn1": batchnorm,
        "block1_conv2": rules.Gamma(0.25),
        "block1_bn2": batchnorm,
        "block2_conv1": middle,
        "block2_bn1": batchnorm,
        "block2_conv2": middle,
        "block2_bn2": batchnorm,
        "dense": rules.Epsilon(0.0),
        "dense_bn": batchnorm,
        "logits": rules.Epsilon(0.0),
    }


def test_composite_picks_by_name_then_kind_then_default():
    composite = rules.Composite(rules.AlphaBeta(), {"bn": rules.Flat()}, by_kind={rules.BATCHNORM: rules.WSquare()})
    assert composite.rule_for("unnamed", rules.DENSE) == rules.AlphaBeta(1.0, 0.0)
    assert composite.rule_for("bn", rules.BATCHNORM) == rules.Flat()
    assert composite.rule_for("bn2", rules.BATCHNORM) == rules.WSquare()
    with pytest.raises(ValueError, match="layer kinds must be among"):
        rules.Composite(rules.Flat(), by_kind={"batch_norm": rules.Flat()})


def test_engines_refuse_a_rule_they_do_not_know_and_a_silently_changed_subclass():
    class Doubled(ref.Epsilon):  # changes what the rule does, but names no spec of its own
        def relevance(self, layer, a, R):
            return 2 * super().relevance(layer, a, R)

    with pytest.raises(TypeError, match="Doubled is not an LRP rule the engines know"):
        rules.spec_type(Doubled(0.1))
    with pytest.raises(TypeError, match="Doubled is not an LRP rule the engines know"):
        analysis.innvestigate_rule(Doubled(0.1))
    assert rules.spec_type(ref.LRP0()) is rules.Epsilon and rules.spec(ref.ZPlus()) == rules.AlphaBeta(1.0, 0.0)

    class Unknown(rules.Rule):
        pass

    with pytest.raises(TypeError, match="the reference implements no rule"):
        ref.implementation(Unknown())


def test_alpha_beta_must_differ_by_one():
    with pytest.raises(ValueError, match="alpha - beta must be 1"):
        ref.AlphaBeta(2, 2)
    assert rules.AlphaBeta.with_alpha(2) == rules.AlphaBeta(2, 1)


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


def test_summed_explanations_draw_the_maps_they_are_given():
    maps = np.random.default_rng(0).normal(size=(2, 8, 8))
    fig = plotting.plot_summed_explanations(np.zeros((2, 8, 8, 3)), {"a": maps})
    drawn = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(drawn, maps[0] / np.abs(maps[0]).max())
    plt.close(fig)


def test_paired_boxes_show_one_row_per_item_with_black_medians():
    values = {
        (group, item): np.arange(5.0) + k
        for k, (group, item) in enumerate([("a", "x"), ("b", "x"), ("a", "y"), ("b", "y")])
    }
    fig = plotting.plot_paired_boxes(values, {"a": "grey", "b": "red"}, reference=1.0)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["x", "y"]
    medians = [line for line in ax.lines if line.get_color() == "black" and line.get_linewidth() == 2.5]
    assert len(medians) == 4 and sorted(line.get_xdata()[0] for line in medians) == [2.0, 3.0, 4.0, 5.0]
    plt.close(fig)


def test_spray_figure_marks_the_zero_eigenvalues_and_has_a_colour_bar():
    fig = plotting.plot_spray(np.array([0.0, 1e-15, 0.2, 0.5]), np.ones((2, 8, 8)), ["one", "two"])
    spectrum = fig.axes[0]
    assert "0 (2×)" in spectrum.get_legend().get_texts()[1].get_text()
    assert fig.axes[-1].get_ylabel() == "relevance / max |relevance|"
    plt.close(fig)


def test_plot_concept_rows_layout():
    crops = [np.zeros((3, 4, 3)), np.ones((5, 2, 3))]
    heatmap = np.zeros((8, 8))
    heatmap[2, 3] = -1.0
    fig = plotting.plot_concept_rows({"a": crops, "b": crops[:1]}, np.zeros((8, 8, 3)), {"a": heatmap, "b": heatmap})
    assert len(fig.axes) == 2 * 3
    assert [ax.texts[0].get_text() for ax in fig.axes[::3]] == ["a", "b"]
    assert fig.axes[4].images[0].get_array().shape == (3, 4, 3)  # row b: its heatmap, then its one crop
    plt.close(fig)
