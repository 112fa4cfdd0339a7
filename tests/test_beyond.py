"""Tabular and time-series helpers of notebook 08."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import analysis, beyond, convert, models, rules, verify


def test_breast_cancer_split_is_standardised_and_stratified():
    data = beyond.load_breast_cancer_data()
    assert data.x_train.shape[1] == data.x_test.shape[1] == len(data.feature_names) == 30
    assert len(data.x_train) + len(data.x_test) == 569
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1, atol=1e-4)
    assert abs(data.y_train.mean() - data.y_test.mean()) < 0.02
    assert data.class_names == ("malignant", "benign")


def test_motif_is_planted_where_stated():
    series = beyond.make_motif_series(20, noise=0.0, seed=3)
    shapes = beyond.motifs()
    for x, y, start in zip(series.x[..., 0], series.y, series.start):
        np.testing.assert_allclose(x[start : start + beyond.MOTIF_LENGTH], shapes[y], atol=1e-6)
        outside = np.delete(x, np.arange(start, start + beyond.MOTIF_LENGTH))
        np.testing.assert_allclose(outside, 0)
    assert set(series.y) == {0, 1} and series.y.sum() == 10


def test_relevance_in_window():
    relevance = np.zeros((3, 128))
    relevance[0, 10:26] = 1.0  # all inside the window starting at 10
    relevance[1, 10:26] = 1.0
    relevance[1, 100] = 16.0  # half of the positive relevance outside
    relevance[2, 50] = -5.0  # no positive relevance at all
    share = beyond.relevance_in_window(relevance, np.array([10, 10, 10]))
    np.testing.assert_allclose(share, [1.0, 0.5, 0.0])


# The rules notebook 08 uses on its two models, as specs that both engines compute.
NOTEBOOK_08_RULES = [rules.Epsilon(0.01), rules.Epsilon(0.0), rules.AlphaBeta(1.0, 0.0), rules.AlphaBeta(2.0, 1.0)]
# On the time series, z⁺ and αβ above zᴮ at the signed input layer (bounds as wide as notebook 08's data).
INPUT_ZB = {"conv1": rules.ZBox(-2.5, 4.0)}
SERIES_COMPOSITES = [
    rules.Composite(rules.AlphaBeta(1.0, 0.0), INPUT_ZB, name="zB | z+"),
    rules.Composite(rules.AlphaBeta(2.0, 1.0), INPUT_ZB, name="zB | a2b1"),
]


def _agrees_at_every_layer(model, inputs, rule):
    with analysis.Analyzer(model, rule, input_range=None, keep_layers=True) as analyzer:
        agreement = verify.compare(analyzer, convert.from_keras(model), rule, inputs)
    assert agreement.images_compared >= len(inputs) // 2
    assert len(agreement.layers) == len(model.layers)  # the input and every layer but the softmax's output
    bound = 1e-2 if rule == rules.Epsilon(0.0) else 1e-4  # LRP-0 divides by unstabilised denominators
    assert agreement.worst <= bound, dict(zip(agreement.layers, agreement.relative_error))


@pytest.mark.parametrize("rule", NOTEBOOK_08_RULES, ids=repr)
def test_lrp_on_the_tabular_mlp_matches_the_reference_at_every_layer(rule):
    data = beyond.load_breast_cancer_data()
    tf.keras.utils.set_random_seed(0)
    model = beyond.tabular_mlp(30)
    beyond.fit_classifier(model, data.x_train, data.y_train, epochs=5)
    _agrees_at_every_layer(model, data.x_test[:20], rule)
    with pytest.raises(ValueError, match="far outside"):
        analysis.Analyzer(model, rule).analyze(data.x_test[:20] * 10)


@pytest.mark.parametrize("rule", NOTEBOOK_08_RULES + SERIES_COMPOSITES, ids=repr)
def test_lrp_on_the_time_series_cnn_matches_the_reference_at_every_layer(rule):
    """Conv1D, MaxPooling1D, Flatten and Dense: notebook 08's motif CNN, briefly trained."""
    series = beyond.make_motif_series(200, seed=1)
    tf.keras.utils.set_random_seed(0)
    model = beyond.motif_cnn()
    beyond.fit_classifier(model, series.x, series.y, epochs=2)
    network = convert.from_keras(model)
    np.testing.assert_allclose(network.logits(series.x[:16]), models.logits(model, series.x[:16]), atol=1e-4)
    _agrees_at_every_layer(model, series.x[:16], rule)


def test_permutation_importance_finds_the_only_informative_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 2] > 0).astype(int)

    def predict_proba(inputs):
        p = 1 / (1 + np.exp(-5 * inputs[:, 2]))
        return np.stack([1 - p, p], axis=1)

    importance = beyond.permutation_importance(predict_proba, x, y, repeats=5)
    assert importance.argmax() == 2 and importance[2] > 1.0
    np.testing.assert_allclose(np.delete(importance, 2), 0)


def test_train_tabular_mlp_gives_the_same_network_for_the_same_seed():
    data = beyond.load_breast_cancer_data()
    first, first_accuracy = beyond.train_tabular_mlp(data, epochs=3, seed=0)
    again, again_accuracy = beyond.train_tabular_mlp(data, epochs=3, seed=0)
    other, _ = beyond.train_tabular_mlp(data, epochs=3, seed=1)
    assert first_accuracy == again_accuracy
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    fewer, _ = beyond.train_tabular_mlp(data, epochs=1, seed=0, columns=[0, 5, 7])
    assert fewer.input_shape == (None, 3)


def test_positive_contributions_from_negative_inputs():
    kernel = np.array([[[1.0, -1.0]], [[2.0, 0.5]], [[-1.0, 1.0]]])  # width 3, 1 channel, 2 filters
    non_negative = np.abs(np.random.default_rng(0).normal(size=(4, 20, 1)))
    assert beyond.positive_contributions_from_negative_inputs(non_negative, kernel) == 0.0
    assert beyond.positive_contributions_from_negative_inputs(-non_negative, kernel) == 1.0
    x = np.zeros((1, 5, 1))
    x[0, 2, 0], x[0, 3, 0] = 1.0, -1.0
    # positive x·w: input +1 with w 1, 2, 0.5, 1 (sum 4.5); input −1 with w −1, −1 (sum 2)
    assert beyond.positive_contributions_from_negative_inputs(x, kernel) == pytest.approx(2 / 6.5)
