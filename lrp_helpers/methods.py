"""Every explanation method of the collection in one registry, and one way to say which class is explained.

    methods.REGISTRY["lrp.epsilon"].label(0.1)           # 'LRP-ε (ε = 0.1)'
    maps = methods.relevance_maps(model, images, "lrp.epsilon", 0.1, target="predicted")   # (N, H, W)
    rule = methods.get("lrp.gamma").spec(0.25)           # the rule spec of an LRP method (lrp_helpers.rules)

An LRP method is defined once, as a rule spec or composite (`lrp_helpers.rules`), which every engine
computes in its own way: the NumPy reference, iNNvestigate (`analysis.Analyzer`). The other methods are
the gradient, input × gradient and the random baseline. The explorer, the
evaluation, the notebooks, the benchmarks and the tests all take their methods from `REGISTRY`.

Targets, everywhere: the vocabulary of `lrp_helpers.targets` ("predicted", "true", a class name, a class
index for every image, or one class index per image).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import analysis, convert, keras_layers, models, rules
from . import reference as ref
from .targets import resolve as resolve_targets

SYMBOLS = {"epsilon": "ε", "alpha": "α", "gamma": "γ"}


@dataclass(frozen=True)
class Method:
    """One explanation method.

    name:        the registry key, e.g. "lrp.epsilon"
    title:       what a reader sees, e.g. "LRP-ε"
    rule:        for LRP methods: (parameter value, linear layers) -> the rule spec or composite
    attribution: for the others: "gradient", "input_t_gradient" or "random" (the baseline)
    parameter:   the parameter's name ("epsilon", "alpha", "gamma") or None; `values` are the offered
                 values and `default` the one used when none is given
    engine:      who computes it by default: "innvestigate", or "reference" where iNNvestigate does not
                 match the reference on a network with BatchNorm layers (γ and the composite: iNNvestigate
                 applies one rule to every BatchNorm layer, the reference gives them ε)
    absolute:    the maps are magnitudes (sensitivity, |gradient|) rather than signed relevance
    """

    name: str
    title: str
    rule: Callable | None = None
    attribution: str | None = None
    parameter: str | None = None
    values: tuple = ()
    default: float | None = None
    engine: str = "innvestigate"
    absolute: bool = False

    @property
    def is_lrp(self) -> bool:
        return self.rule is not None

    def value(self, value=None):
        """The parameter value to use: `value`, or the default; a clear error for a value not offered."""
        if self.parameter is None:
            if value is not None:
                raise ValueError(f"{self.title} takes no parameter, got {value!r}")
            return None
        value = self.default if value is None else value
        if value not in self.values:
            raise ValueError(f"{self.parameter} for {self.title} must be one of {self.values}, got {value!r}")
        return value

    def label(self, value=None) -> str:
        """E.g. 'LRP-ε (ε = 0.1)', 'LRP-αβ (α = 2, β = 1)', 'gradient'."""
        value = self.value(value)
        if self.parameter is None:
            return self.title
        extra = f", β = {rules.AlphaBeta.with_alpha(value).beta:g}" if self.parameter == "alpha" else ""
        return f"{self.title} ({SYMBOLS[self.parameter]} = {value:g}{extra})"

    def spec(self, value=None, layers=()) -> rules.Rule | rules.Composite:
        """The rule spec or composite of this LRP method, for a network whose linear layers are `layers`
        ((name, kind) bottom up: `reference.linear_layers`, `keras_layers.linear_layers`; the composite needs them)."""
        if not self.is_lrp:
            raise ValueError(f"{self.title} is not an LRP method: it has no rule")
        return self.rule(self.value(value), list(layers))


EPSILONS = (0.01, 0.1, 0.25, 1.0, 10.0)
REGISTRY = {
    method.name: method
    for method in (
        Method("lrp.0", "LRP-0", rule=lambda value, layers: rules.Epsilon(0.0)),
        Method(
            "lrp.epsilon",
            "LRP-ε",
            rule=lambda value, layers: rules.Epsilon(value),
            parameter="epsilon",
            values=EPSILONS,
            default=0.1,
        ),
        Method(
            "lrp.epsilon_no_bias",
            "LRP-ε without bias",
            rule=lambda value, layers: rules.Epsilon(value, bias=False),
            parameter="epsilon",
            values=EPSILONS,
            default=0.1,
        ),
        Method("lrp.z_plus", "LRP z⁺", rule=lambda value, layers: rules.AlphaBeta(1.0, 0.0)),
        Method(
            "lrp.alpha_beta",
            "LRP-αβ",
            rule=lambda value, layers: rules.AlphaBeta.with_alpha(value),
            parameter="alpha",
            values=(1.0, 2.0, 3.0),
            default=2.0,
        ),
        Method(
            "lrp.gamma",
            "LRP-γ",
            rule=lambda value, layers: rules.with_batchnorm_epsilon(rules.Gamma(value)),
            parameter="gamma",
            values=(0.1, 0.25, 0.5, 1.0),
            default=0.25,
            engine="reference",
        ),
        Method(
            "lrp.composite",
            "LRP composite",
            rule=lambda value, layers: rules.depth_composite(layers),
            engine="reference",
        ),
        Method(
            "lrp.conv_alpha_beta",
            "LRP αβ-conv composite",
            rule=lambda value, layers: rules.conv_alpha_beta_composite(layers, alpha=value),
            parameter="alpha",
            values=(1.0, 2.0),
            default=1.0,
            engine="reference",
        ),
        Method("lrp.w_square", "LRP-w²", rule=lambda value, layers: rules.WSquare()),
        Method("lrp.flat", "LRP-flat", rule=lambda value, layers: rules.Flat()),
        Method("gradient", "gradient", attribution="gradient"),
        Method("sensitivity", "sensitivity (|gradient|)", attribution="gradient", absolute=True),
        Method("input_t_gradient", "input × gradient", attribution="input_t_gradient"),
        Method("random", "random", attribution="random"),
    )
}


def get(name: str) -> Method:
    """The registered method called `name`, with a clear error for anything else."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(REGISTRY)}") from None


def explain(
    model,
    images: np.ndarray,
    method: str,
    value=None,
    target="predicted",
    *,
    engine: str | None = None,
    labels=None,
    seed: int = 0,
) -> np.ndarray:
    """Relevance of every input for the `target` class, shaped like `images`.

    model:  a trained Keras model (for LRP where the rules' assumptions hold, pass `canonize.canonize(model)`)
    engine: "innvestigate" or "reference"; default: the method's own (`Method.engine`)
    seed:   for the random baseline
    """
    chosen = get(method)
    engine = engine or chosen.engine
    if engine not in ("innvestigate", "reference"):
        raise ValueError(f"engine must be 'innvestigate' or 'reference', got {engine!r}")
    if chosen.attribution == "random":
        chosen.value(value)
        return np.random.default_rng(seed).random(images.shape)
    targets = resolve_targets(target, models.logits(model, images), labels)
    if engine == "reference":
        if not chosen.is_lrp:
            raise ValueError(f"{chosen.title} is computed by iNNvestigate only")
        network = convert.from_keras(model)
        return network.explain(images, chosen.spec(value, ref.linear_layers(network)), targets).input
    how = chosen.spec(value, keras_layers.linear_layers(model)) if chosen.is_lrp else chosen.attribution
    with analysis.Analyzer(model, how) as analyzer:
        relevance = analyzer.analyze(images, targets)
    return np.abs(relevance) if chosen.absolute else relevance


def relevance_maps(model, images: np.ndarray, method: str, value=None, target="predicted", **options) -> np.ndarray:
    """(N, H, W) maps: `explain`'s relevance summed over the colour channels (magnitudes for
    `absolute` methods such as sensitivity: |gradient| summed, as in Samek et al. 2017)."""
    return explain(model, images, method, value, target, **options).sum(axis=-1)
