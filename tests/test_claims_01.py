"""Notebook 01's and its solutions' words against their committed outputs: each sentence of the prose that
states a result has a test here that reads the table or printed output it rests on."""

import re

import numpy as np
from notebook_outputs import markdown, table, text_outputs

NOTEBOOK = "01_lrp_theory"
SOLUTIONS = "solutions/01_lrp_theory_solutions"
W1 = np.array([[1.0, -1.0], [2.0, 1.0], [-1.0, 1.0]])
W2 = np.array([[1.0], [2.0]])
X = np.array([1.0, 2.0, 1.0])


def _textbook_alpha_beta(a, weight, bias, R, alpha=2.0, beta=1.0):
    """αβ with b⁺ in the positive and b⁻ in the negative sum, neuron by neuron (independent of the notebook)."""
    relevance = np.zeros(len(a))
    for k in range(weight.shape[1]):
        contributions = a * weight[:, k]
        positive, negative = np.maximum(contributions, 0), np.minimum(contributions, 0)
        positive_sum = positive.sum() + max(bias[k], 0)
        negative_sum = negative.sum() + min(bias[k], 0)
        if positive_sum:
            relevance += alpha * positive / positive_sum * R[k]
        if negative_sum:
            relevance -= beta * negative / negative_sum * R[k]
    return relevance


def test_alpha_beta_with_and_without_the_bias():
    """ "its total here is exactly twice f(x)"; "with the bias in the sums ... the total lands between f(x)
    and twice f(x)"."""
    rows = table(NOTEBOOK, "alpha_beta_bias")
    ignored, textbook = rows["α2β1, bias ignored (ref.AlphaBeta)"], rows["α2β1, bias in the sums (Bach et al.)"]
    f_x = ignored["f(x)"]
    assert f_x == textbook["f(x)"] == 7.5
    assert np.isclose(ignored["input relevance"], 2 * f_x)
    hidden_bias, output_bias = np.array([1.0, -1.0]), np.array([0.5])
    hidden = np.maximum(X @ W1 + hidden_bias, 0)
    R_hidden = _textbook_alpha_beta(hidden, W2, output_bias, np.array([f_x]))
    expected = _textbook_alpha_beta(X, W1, hidden_bias, R_hidden).sum()
    assert np.isclose(textbook["input relevance"], expected)
    assert f_x < textbook["input relevance"] < 2 * f_x


def test_the_rule_table_states_what_each_formula_leaves_out():
    """Issue 28, finding 5: αβ ignores the bias (and says how the textbook counts it), γ includes b + γb⁺, flat
    ignores the weights."""
    rules_table = next(cell for cell in markdown(NOTEBOOK).split("\n\n") if cell.startswith("| rule |"))
    rows = {line.split("|")[1].strip(): line for line in rules_table.splitlines()[2:]}
    assert r"b_k^+" in rows["LRP-γ"] and r"(a_j w_{jk})^+" in rows["LRP-γ"]
    assert "bias ignored" in rows["αβ"] and r"b_k^-" in rows["αβ"]
    assert "*and* the weights" in rows["flat"]
    assert "flat ignores the weights too" in markdown(NOTEBOOK)


def test_lrp0_conserves_on_the_bias_free_network_and_equals_gradient_times_input():
    text = text_outputs(NOTEBOOK)
    assert re.search(r"input relevance: \[\[-1\.\s+8\.\s+1\.\]\]\s+sum: 8\.0\s+f\(x\): \[8\.\]", text)
    assert "equal: True" in text


def test_negative_biases_inject_under_lrp0_and_zplus_conserves():
    """Solution 4: "more than five times f(x)" under LRP-0; z⁺ "hands exactly f(x) to the inputs"."""
    text = text_outputs(SOLUTIONS)
    received = {
        rule: (float(inputs), float(f_x))
        for rule, inputs, f_x in re.findall(r"(\S+): inputs receive (-?[\d.]+) of f\(x\) = (-?[\d.]+)", text)
    }
    inputs, f_x = received["LRP-0"]
    assert inputs > 5 * f_x
    inputs, f_x = received["z⁺"]
    assert np.isclose(inputs, f_x)


def test_zplus_is_the_taylor_decomposition_at_a_root_point_in_the_domain():
    """Solution 4: with biases ≤ 0 the root points lie in x ≥ 0 and their Taylor terms are z⁺'s shares."""
    lines = re.findall(
        r"neuron \d: root \[([^\]]*)\], Taylor terms \[([^\]]*)\], z⁺ \[([^\]]*)\]", text_outputs(SOLUTIONS)
    )
    assert len(lines) == 2
    for root, terms, z_plus in lines:
        root, terms, z_plus = (np.array(part.split(), float) for part in (root, terms, z_plus))
        assert (root >= 0).all()
        assert np.allclose(terms, z_plus, atol=1e-3)


def test_solution_checks_print_true():
    text = text_outputs(SOLUTIONS)
    assert "γ = 0 is LRP-0: True" in text and "α1β0 is z⁺:     True" in text
