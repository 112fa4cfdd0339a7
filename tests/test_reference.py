"""The NumPy reference beyond a plain sequence of layers: residual connections (`ref.Residual`)."""

import numpy as np
import pytest

from lrp_helpers import reference as ref
from lrp_helpers import rules


def _residual_network(seed=0, bias=True):
    rng = np.random.default_rng(seed)

    def dense(inputs, outputs, name):
        return ref.Dense(
            rng.normal(size=(inputs, outputs)), rng.normal(size=outputs) if bias else np.zeros(outputs), name
        )

    block = [dense(4, 4, "inner1"), ref.ReLU("inner_relu"), dense(4, 4, "inner2")]
    return ref.Network([dense(3, 4, "first"), ref.ReLU("relu"), ref.Residual(block, "skip"), dense(4, 2, "logits")])


def test_a_residual_block_adds_its_input():
    network = _residual_network()
    x = np.random.default_rng(1).normal(size=(5, 3))
    hidden = np.maximum(network.layers[0].forward(x), 0)
    block = network.layers[2].block
    expected = hidden + block[2].forward(np.maximum(block[0].forward(hidden), 0))
    np.testing.assert_allclose(network.forward(x)[3], expected)


def test_bias_free_lrp0_conserves_through_a_residual_block():
    """Splitting R in proportion to the summands conserves; so every layer's total equals the logit."""
    network = _residual_network(bias=False)
    x = np.random.default_rng(2).normal(size=(8, 3))
    explanation = network.explain(x, rules.Epsilon(0.0), target=0)
    assert list(explanation.layers) == ["first", "relu", "inner1", "inner_relu", "inner2", "skip", "logits"]
    for name in ("logits", "skip", "relu", "first"):
        np.testing.assert_allclose(explanation.layers[name].sum(axis=1), explanation.logits, rtol=1e-9)
    np.testing.assert_allclose(explanation.input.sum(axis=1), explanation.logits, rtol=1e-9)


def test_the_split_is_by_the_summands_values():
    """One unit: y = x + w·x with x = 2, w = 3 gives y = 8; R = y splits 2 : 6 before the block."""
    block = [ref.Dense(np.array([[3.0]]), np.zeros(1), "times3")]
    network = ref.Network([ref.Residual(block, "skip")])
    explanation = network.explain(np.array([[2.0]]), rules.Epsilon(0.0), target=0)
    assert explanation.logits[0] == 8.0
    np.testing.assert_allclose(explanation.layers["times3"], [[6.0]])  # the block's share, at its output
    np.testing.assert_allclose(explanation.input, [[2.0 + 6.0]])  # the skip's 2, and the block's 6 through it


@pytest.mark.parametrize("rule", [rules.Epsilon(0.1), rules.AlphaBeta(1.0, 0.0), rules.Gamma(0.25)], ids=repr)
def test_every_rule_runs_inside_a_residual_block(rule):
    explanation = _residual_network().explain(np.random.default_rng(3).normal(size=(4, 3)), rule)
    assert explanation.input.shape == (4, 3) and np.all(np.isfinite(explanation.input))
