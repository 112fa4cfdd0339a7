"""The rules' NumPy implementations: each class computes one rule spec of `lrp_helpers.rules` (its
`implements`), by the four steps of the package doc, and `implementation` finds the one for a spec."""

from __future__ import annotations

import numpy as np

from .. import rules

# ---------------------------------------------------------------------------------------------
# Rules: how a linear layer hands relevance from its outputs to its inputs.
# ---------------------------------------------------------------------------------------------


def _safe_divide(numerator, denominator):
    """numerator / denominator, where a zero denominator counts as 1e-7 (as iNNvestigate does)."""
    return numerator / np.where(denominator == 0, 1e-7, denominator)


def _positive(x):
    return np.maximum(x, 0)


def _negative(x):
    return np.minimum(x, 0)


class Epsilon(rules.Epsilon):
    """LRP-ε: z_k = Σ_j a_j w_jk + b_k + ε·sign(z_k). ε = 0 is LRP-0.

    The bias is an input that keeps its share of relevance; ε absorbs some more. Both make the
    relevance that reaches the layer's inputs smaller than what arrived ("absorbed" relevance).
    bias=False leaves the bias out of z (iNNvestigate's `lrp.epsilon_IB`): only ε absorbs.
    """

    implements = rules.Epsilon  # the definition (lrp_helpers.rules) this class computes

    def relevance(self, layer, a, R):
        z = layer.apply(a, layer.weight, layer.bias if self.bias else None)  # step 1: z = a w (+ b)
        z = z + self.epsilon * np.where(z >= 0, 1.0, -1.0)
        s = _safe_divide(R, z)  # step 2
        c = layer.backward(s, layer.weight)  # step 3
        return a * c  # step 4


class LRP0(Epsilon):
    """LRP-0: redistribute in proportion to a_j w_jk. Equals gradient × input on a ReLU net."""

    implements = rules.Epsilon

    def __init__(self, bias: bool = True):
        super().__init__(epsilon=0.0, bias=bias)


class Gamma(rules.Gamma):
    """LRP-γ: favour positive contributions, a_j w_jk -> a_j w_jk + γ·(a_j w_jk)⁺ (b -> b + γ·b⁺).

    For inputs a ≥ 0 this is the usual weight form w -> w + γ·w⁺. Here BatchNorm follows each
    ReLU, so layers also see negative inputs; writing the rule on contributions keeps "favour
    positive contributions" true for them: (a w)⁺ = a⁺w⁺ + a⁻w⁻.
    """

    implements = rules.Gamma

    def relevance(self, layer, a, R):
        a_pos, a_neg = _positive(a), _negative(a)
        w, w_pos, w_neg = layer.weight, _positive(layer.weight), _negative(layer.weight)
        z = layer.apply(a, w, layer.bias) + self.gamma * (
            layer.apply(a_pos, w_pos) + layer.apply(a_neg, w_neg) + _positive(layer.bias)
        )
        s = _safe_divide(R, z)
        return a * layer.backward(s, w) + self.gamma * (
            a_pos * layer.backward(s, w_pos) + a_neg * layer.backward(s, w_neg)
        )


class AlphaBeta(rules.AlphaBeta):
    """LRP-αβ: R_j = Σ_k (α (a_j w_jk)⁺ / Σ_j (a_j w_jk)⁺ − β (a_j w_jk)⁻ / Σ_j (a_j w_jk)⁻) R_k.

    α − β = 1. The bias is ignored here (iNNvestigate's `lrp.alpha_*_beta_*_IB`); Bach et al. (2015)
    and Montavon et al. (2019) count it as one more input, b⁺ in the positive and b⁻ in the
    negative sum. On the canonized miniVGG (every input ≥ 0, `lrp_helpers.canonize`), ignoring it
    makes αβ conserve exactly: the input receives (α − β) = 1 times the relevance. iNNvestigate's
    `lrp.alpha_2_beta_1` (without _IB) adds the *whole* bias to both sums, which is neither.
    For α = 1, β = 0 this is the z⁺ rule.
    """

    implements = rules.AlphaBeta

    @staticmethod
    def _share(layer, a, R, weight_for_positive_a, weight_for_negative_a):
        a_pos, a_neg = _positive(a), _negative(a)
        z = layer.apply(a_pos, weight_for_positive_a) + layer.apply(a_neg, weight_for_negative_a)
        s = _safe_divide(R, z)
        return a_pos * layer.backward(s, weight_for_positive_a) + a_neg * layer.backward(s, weight_for_negative_a)

    def relevance(self, layer, a, R):
        w_pos, w_neg = _positive(layer.weight), _negative(layer.weight)
        activating = self._share(layer, a, R, w_pos, w_neg)  # the (a w)⁺ terms
        if self.beta == 0:
            return self.alpha * activating
        inhibiting = self._share(layer, a, R, w_neg, w_pos)  # the (a w)⁻ terms
        return self.alpha * activating - self.beta * inhibiting


class ZPlus(AlphaBeta):
    """z⁺: α = 1, β = 0 — only positive contributions count."""

    implements = rules.AlphaBeta

    def __init__(self):
        super().__init__(alpha=1.0, beta=0.0)


def _by_weights_alone(layer, a, R, weight):
    """Relevance spread by `weight` alone, whatever the input's values (w², flat)."""
    return layer.backward(_safe_divide(R, layer.apply(np.ones_like(a), weight)), weight)


class WSquare(rules.WSquare):
    """w²: R_i = Σ_j w_ij² / Σ_i w_ij² R_j (Montavon et al. 2017, deep Taylor decomposition)."""

    implements = rules.WSquare

    def relevance(self, layer, a, R):
        return _by_weights_alone(layer, a, R, layer.weight**2)


class Flat(rules.Flat):
    """flat: every input in a neuron's receptive field gets an equal share."""

    implements = rules.Flat

    def relevance(self, layer, a, R):
        return _by_weights_alone(layer, a, R, np.ones_like(layer.weight))


class ZBox(rules.ZBox):
    """zᴮ (bounded) rule for the input layer, where pixels lie in [low, high].

    z_k = Σ_j (a_j w_jk − l_j w_jk⁺ − h_j w_jk⁻), R_j = Σ_k (a_j w_jk − l_j w_jk⁺ − h_j w_jk⁻) R_k / z_k.
    """

    implements = rules.ZBox

    def relevance(self, layer, a, R):
        w, w_pos, w_neg = layer.weight, _positive(layer.weight), _negative(layer.weight)
        low, high = np.full_like(a, self.low), np.full_like(a, self.high)
        z = layer.apply(a, w) - layer.apply(low, w_pos) - layer.apply(high, w_neg)
        s = _safe_divide(R, z)
        return a * layer.backward(s, w) - low * layer.backward(s, w_pos) - high * layer.backward(s, w_neg)


# ---------------------------------------------------------------------------------------------
# Composites: which rule for which layer.
# ---------------------------------------------------------------------------------------------


IMPLEMENTATIONS = {rule.implements: rule for rule in (Epsilon, Gamma, AlphaBeta, ZBox, WSquare, Flat)}


def implementation(rule):
    """The reference's implementation of a rule spec (`lrp_helpers.rules`). A rule object with a
    `relevance` method of its own (this module's classes, or a variant such as
    `verify.lrp0_sensitivity`'s) is used as it is."""
    if callable(getattr(rule, "relevance", None)):
        return rule
    cls = IMPLEMENTATIONS.get(type(rule))
    if cls is None:
        known = ", ".join(spec.__name__ for spec in IMPLEMENTATIONS)
        raise TypeError(f"the reference implements no rule {rule!r}; it implements {known}")
    return cls(**{name: getattr(rule, name) for name in type(rule).__dataclass_fields__})
