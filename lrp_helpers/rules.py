"""The LRP rules as definitions: small frozen specs that every engine computes in its own way.

    rules.Epsilon(0.1)                          # LRP-ε with ε = 0.1
    rules.AlphaBeta.with_alpha(2)               # α2β1 (β = α − 1)
    rules.Composite(rules.Epsilon(0.1), by_name={"conv1": rules.ZBox(0, 1)})

A spec says *what* a rule is, never how to compute it. The engines keep their own table from spec type
to implementation: the NumPy reference (`lrp_helpers.reference`), iNNvestigate (`lrp_helpers.analysis`)
and our TensorFlow engine (`lrp_helpers.engine`). Each raises a clear error on a spec it does not
implement. They share these definitions and nothing else, which is what makes the reference a check.

This module imports nothing else of the package (tests/test_architecture.py).

Layer kinds, for composites that choose a rule by the kind of layer: every engine classifies its layers
into these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DENSE, CONV, BATCHNORM = "dense", "conv", "batchnorm"
# A transformer's operations that are not linear layers (notebook 10, `transformer_composite`): the bilinear
# products of attention, scores = Q·Kᵀ and mixed = A·V; the softmax A = softmax(scores); LayerNorm's division
# by the standard deviation; an element-wise activation such as GELU.
SCORES, MIXING, SOFTMAX, NORMALIZATION, ACTIVATION = "scores", "mixing", "softmax", "normalization", "activation"
TRANSFORMER_KINDS = (SCORES, MIXING, SOFTMAX, NORMALIZATION, ACTIVATION)
LAYER_KINDS = (DENSE, CONV, BATCHNORM, *TRANSFORMER_KINDS)

# BatchNorm after a ReLU maps the ReLU's many zeros close to zero; rules that divide by its outputs without
# a stabiliser (γ, LRP-0) divide by almost nothing there. Where BatchNorm layers get a rule of their own, it
# is ε with this value.
BATCHNORM_EPSILON = 0.25


class Rule:
    """A rule spec. Subclasses are frozen dataclasses; an engine's implementation of a spec may subclass
    it, and says so with `implements` in its own class body (see `spec_type`)."""


@dataclass(frozen=True)
class Epsilon(Rule):
    """LRP-ε: z_k = Σ_j a_j w_jk + b_k + ε·sign(z_k); ε = 0 is LRP-0. bias=False leaves b out of z."""

    epsilon: float = 0.1
    bias: bool = True


@dataclass(frozen=True)
class Gamma(Rule):
    """LRP-γ on contributions: a_j w_jk -> a_j w_jk + γ·(a_j w_jk)⁺, b -> b + γ·b⁺, where
    (a w)⁺ = a⁺w⁺ + a⁻w⁻. For inputs a ≥ 0 this is Montavon et al.'s (2019) weight form w + γ·w⁺."""

    gamma: float = 0.25


@dataclass(frozen=True)
class AlphaBeta(Rule):
    """LRP-αβ with the bias ignored: R_j = Σ_k (α (a_j w_jk)⁺ / Σ_j (a_j w_jk)⁺ − β (a_j w_jk)⁻ / Σ_j (a_j w_jk)⁻) R_k,
    α − β = 1. α = 1, β = 0 is z⁺."""

    alpha: float = 1.0
    beta: float = 0.0

    def __post_init__(self):
        if self.alpha - self.beta != 1:
            raise ValueError(f"alpha - beta must be 1, got alpha={self.alpha}, beta={self.beta}")

    @classmethod
    def with_alpha(cls, alpha: float) -> AlphaBeta:
        """αβ with β = α − 1, the only β that conserves."""
        return cls(alpha, alpha - 1)


@dataclass(frozen=True)
class ZBox(Rule):
    """zᴮ for an input layer whose values lie in [low, high]."""

    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class WSquare(Rule):
    """w²: relevance in proportion to the squared weights, whatever the input."""


@dataclass(frozen=True)
class Flat(Rule):
    """flat: an equal share for every input in a neuron's receptive field."""


@dataclass(frozen=True)
class Identity(Rule):
    """The identity rule: the output's relevance passes to the input unchanged, element by element. For an
    element-wise activation y = f(x) (GELU), and for LayerNorm's division by the standard deviation, which is
    thereby held constant (Ali et al. 2022; Achtibat et al. 2024, Proposition 3.4)."""


@dataclass(frozen=True)
class Uniform(Rule):
    """The uniform rule for a product of two factors, y = A·B (Achtibat et al. 2024, Propositions 3.2 and 3.3):
    half of the relevance goes to each factor, and within a factor by LRP-0 with the other held constant:
    R_A = ½ A ⊙ ((R/y)·Bᵀ), R_B = ½ B ⊙ (Aᵀ·(R/y)). It conserves: each half sums to ½ Σ R."""


@dataclass(frozen=True)
class HoldConstant(Rule):
    """A product y = A·B whose first factor A is held constant: all relevance to B by LRP-0, R_B = B ⊙ (Aᵀ·(R/y)),
    none to A. On the attention's mixed = A·V this is CP-LRP (Ali et al. 2022): the attention weights are
    constants, the block is linear in the values, and nothing reaches the softmax or the scores."""


@dataclass(frozen=True)
class SoftmaxTaylor(Rule):
    """AttnLRP's softmax rule (Achtibat et al. 2024, Proposition 3.1), a first-order Taylor term at the input x:
    R_x = x ⊙ (R − s · Σ R), s = softmax(x), sums over the softmax's axis. It equals input times gradient
    through the softmax, and need not conserve: Σ R_x = Σ x R − (Σ s x)(Σ R)."""


@dataclass(frozen=True, eq=False)
class Composite:
    """A rule per linear layer: by the layer's name (`rules`), else by its kind (`by_kind`, one of
    LAYER_KINDS), else `default`."""

    default: Rule
    rules: Mapping[str, Rule] = field(default_factory=dict)
    by_kind: Mapping[str, Rule] = field(default_factory=dict)
    name: str = "composite"

    def __post_init__(self):
        unknown = set(self.by_kind) - set(LAYER_KINDS)
        if unknown:
            raise ValueError(f"layer kinds must be among {LAYER_KINDS}, got {sorted(unknown)}")

    def rule_for(self, name: str, kind: str) -> Rule:
        """The rule for the layer called `name`, of kind `kind`."""
        if name in self.rules:
            return self.rules[name]
        return self.by_kind.get(kind, self.default)

    def __repr__(self):
        return f"Composite({self.name})"


def as_composite(rule: Rule | Composite) -> Composite:
    return rule if isinstance(rule, Composite) else Composite(rule)


def with_batchnorm_epsilon(rule: Rule, name: str | None = None) -> Composite:
    """`rule` everywhere, except ε = BATCHNORM_EPSILON on BatchNorm layers (only a network as trained has them)."""
    return Composite(rule, by_kind={BATCHNORM: Epsilon(BATCHNORM_EPSILON)}, name=name or repr(rule))


def depth_composite(layers: list[tuple[str, str]], gamma=0.25, epsilon=0.25, low=0.0, high=1.0) -> Composite:
    """Montavon et al. (2019)'s recipe by depth, for the linear layers `layers` ((name, kind), bottom up):
    zᴮ on the pixels, γ in the lower convolutions, ε in the upper ones, LRP-0 in the dense layers, and
    ε = BATCHNORM_EPSILON for every BatchNorm.

    The first half of the convolutions is "lower", the rest "upper". BatchNorm after ReLU gets ε wherever it
    sits: its outputs can be close to zero while still carrying relevance, and γ or LRP-0 would divide by
    almost nothing there.
    """
    convs = [name for name, kind in layers if kind == CONV]
    lower = set(convs[: len(convs) // 2])
    chosen: dict[str, Rule] = {}
    for position, (name, kind) in enumerate(layers):
        if position == 0:
            chosen[name] = ZBox(low, high)
        elif kind == BATCHNORM:
            chosen[name] = Epsilon(BATCHNORM_EPSILON)
        elif name in lower:
            chosen[name] = Gamma(gamma)
        elif kind == CONV:
            chosen[name] = Epsilon(epsilon)
        else:
            chosen[name] = Epsilon(0.0)
    return Composite(Epsilon(0.0), chosen, name=f"zB | γ={gamma} | ε={epsilon} | 0")


def conv_alpha_beta_composite(layers: list[tuple[str, str]], alpha=1.0, epsilon=0.1) -> Composite:
    """Kohlbrenner et al. (2020)'s recipe, iNNvestigate's `lrp.sequential_preset_a` (α = 1) and `_b`
    (α = 2), for the linear layers `layers` ((name, kind), bottom up): αβ with β = α − 1 in every
    convolution, ε in the dense layers, and ε = BATCHNORM_EPSILON for every BatchNorm."""
    chosen: dict[str, Rule] = {}
    for name, kind in layers:
        if kind == BATCHNORM:
            chosen[name] = Epsilon(BATCHNORM_EPSILON)
        elif kind == CONV:
            chosen[name] = AlphaBeta.with_alpha(alpha)
        else:
            chosen[name] = Epsilon(epsilon)
    return Composite(Epsilon(epsilon), chosen, name=f"α{alpha:g}β{alpha - 1:g} conv | ε={epsilon} dense")


def transformer_composite(attention: str = "attnlrp", epsilon: float = 0.0) -> Composite:
    """The rules for a transformer (notebook 10): ε on every linear layer (with biases; ε = 0 is LRP-0), the
    identity rule on activations and on LayerNorm's normalisation, and on attention either AttnLRP (Achtibat
    et al. 2024: the uniform rule on both products, the Taylor rule on the softmax) or CP-LRP (Ali et al.
    2022: the attention weights held constant)."""
    by_kind: dict[str, Rule] = {NORMALIZATION: Identity(), ACTIVATION: Identity()}
    if attention == "attnlrp":
        by_kind |= {SCORES: Uniform(), SOFTMAX: SoftmaxTaylor(), MIXING: Uniform()}
        label = "AttnLRP"
    elif attention == "cp":
        by_kind |= {SCORES: Uniform(), SOFTMAX: SoftmaxTaylor(), MIXING: HoldConstant()}  # the first two get nothing
        label = "CP-LRP"
    else:
        raise ValueError(f"attention must be 'attnlrp' or 'cp', not {attention!r}")
    return Composite(Epsilon(epsilon), by_kind=by_kind, name=f"{label} | ε={epsilon:g}")


SPECS = (Epsilon, Gamma, AlphaBeta, ZBox, WSquare, Flat, Identity, Uniform, HoldConstant, SoftmaxTaylor)


def spec_type(rule: Rule) -> type[Rule]:
    """The spec `rule` is: its own class if that is a spec, or the spec an engine's implementation names
    in its class body (`implements = rules.Epsilon`). A subclass that names none is refused rather than
    silently computed as its parent: it may have changed what the rule does."""
    kind = type(rule)
    if kind in SPECS:
        return kind
    named = kind.__dict__.get("implements")
    if named in SPECS and issubclass(kind, named):
        return named
    raise TypeError(
        f"{kind.__name__} is not an LRP rule the engines know: use one of "
        f"{', '.join(spec.__name__ for spec in SPECS)} (lrp_helpers.rules), or the reference's classes"
    )


def spec(rule: Rule) -> Rule:
    """`rule` as its plain spec (an engine's implementation turned back into the definition it computes)."""
    kind = spec_type(rule)
    return kind(**{name: getattr(rule, name) for name in kind.__dataclass_fields__})
