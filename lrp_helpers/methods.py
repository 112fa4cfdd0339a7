"""Every explanation method of the collection in one registry, and one way to say which class is explained.

    methods.REGISTRY["lrp.epsilon"].label(0.1)           # 'LRP-ε (ε = 0.1)'
    maps = methods.relevance_maps(model, images, "lrp.epsilon", 0.1, target="predicted")   # (N, H, W)
    rule = methods.REGISTRY["lrp.gamma"].rule(0.25, network)   # the reference definition of an LRP method
    targets = methods.resolve_targets("true", logits, labels)  # one class index per image

An LRP method is defined once, as a rule or composite of the NumPy reference (`lrp_helpers.reference`);
`analysis.Analyzer(model, rule)` has iNNvestigate compute that same definition. The other methods are
iNNvestigate analyzers (the gradient, input × gradient) or the random baseline. The explorer, the
evaluation, the notebooks, the benchmarks and the tests all take their methods from `REGISTRY`.

Targets, everywhere: "predicted" (the class the model predicts), "true" (the label; needs the labels),
a class name (needs the class names), a class index for every image, or one class index per image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import reference as ref

SYMBOLS = {"epsilon": "ε", "alpha": "α", "gamma": "γ"}


@dataclass(frozen=True)
class Method:
    """One explanation method.

    name:       the registry key, e.g. "lrp.epsilon"
    title:      what a reader sees, e.g. "LRP-ε"
    rule:       for LRP methods: (parameter value, reference network) -> the reference rule or composite
    analyzer:   for the others: the iNNvestigate analyzer name ("gradient", "input_t_gradient");
                "random" for the baseline
    parameter:  the parameter's name ("epsilon", "alpha", "gamma") or None; `values` are the offered
                values and `default` the one used when none is given
    engine:     who computes it by default: "innvestigate", or "reference" where iNNvestigate does not
                match the reference on a network with BatchNorm layers (γ and the composite: iNNvestigate
                applies one rule to every BatchNorm layer, the reference gives them ε)
    absolute:   the maps are magnitudes (sensitivity, |gradient|) rather than signed relevance
    native:     iNNvestigate's own analyzer with the same definition on the network as trained:
                value -> (name, parameters), or None where it has none
    """

    name: str
    title: str
    rule: Callable | None = None
    analyzer: str | None = None
    parameter: str | None = None
    values: tuple = ()
    default: float | None = None
    engine: str = "innvestigate"
    absolute: bool = False
    native: Callable | None = None

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
        extra = f", β = {value - 1:g}" if self.parameter == "alpha" else ""
        return f"{self.title} ({SYMBOLS[self.parameter]} = {value:g}{extra})"

    def how(self, value, network: ref.Network):
        """What `analysis.Analyzer` takes for this method: the reference rule, or the analyzer name."""
        value = self.value(value)
        return self.rule(value, network) if self.is_lrp else self.analyzer


def _gamma(value, network):
    # BatchNorm layers (only on a network as trained) get ε: γ divides by almost nothing where a
    # BatchNorm maps the many zeros of the ReLU before it close to zero.
    return ref.Composite(ref.Gamma(value), by_type={ref.ChannelAffine: ref.Epsilon(0.25)})


EPSILONS = (0.01, 0.1, 0.25, 1.0, 10.0)
REGISTRY = {
    method.name: method
    for method in (
        Method("lrp.0", "LRP-0", rule=lambda value, network: ref.LRP0(), native=lambda value: ("lrp.z", {})),
        Method(
            "lrp.epsilon",
            "LRP-ε",
            rule=lambda value, network: ref.Epsilon(value),
            parameter="epsilon",
            values=EPSILONS,
            default=0.1,
            native=lambda value: ("lrp.epsilon", {"epsilon": value}),
        ),
        Method(
            "lrp.epsilon_no_bias",
            "LRP-ε without bias",
            rule=lambda value, network: ref.Epsilon(value, bias=False),
            parameter="epsilon",
            values=EPSILONS,
            default=0.1,
        ),
        Method(
            "lrp.z_plus", "LRP z⁺", rule=lambda value, network: ref.ZPlus(), native=lambda value: ("lrp.z_plus", {})
        ),
        Method(
            "lrp.alpha_beta",
            "LRP-αβ",
            rule=lambda value, network: ref.AlphaBeta(value, value - 1),
            parameter="alpha",
            values=(1.0, 2.0, 3.0),
            default=2.0,
            native=lambda value: (f"lrp.alpha_{value:g}_beta_{value - 1:g}_IB", {}) if value in (1, 2) else None,
        ),
        Method(
            "lrp.gamma",
            "LRP-γ",
            rule=_gamma,
            parameter="gamma",
            values=(0.1, 0.25, 0.5, 1.0),
            default=0.25,
            engine="reference",
        ),
        Method(
            "lrp.composite",
            "LRP composite",
            rule=lambda value, network: ref.depth_composite(network),
            engine="reference",
        ),
        Method(
            "lrp.w_square",
            "LRP-w²",
            rule=lambda value, network: ref.WSquare(),
            native=lambda value: ("lrp.w_square", {}),
        ),
        Method("lrp.flat", "LRP-flat", rule=lambda value, network: ref.Flat(), native=lambda value: ("lrp.flat", {})),
        Method("gradient", "gradient", analyzer="gradient"),
        Method("sensitivity", "sensitivity (|gradient|)", analyzer="gradient", absolute=True),
        Method("input_t_gradient", "input × gradient", analyzer="input_t_gradient"),
        Method("random", "random", analyzer="random"),
    )
}


def get(name: str) -> Method:
    """The registered method called `name`, with a clear error for anything else."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(REGISTRY)}") from None


def resolve_targets(target, logits: np.ndarray, labels=None, class_names=None) -> np.ndarray:
    """One class index per image (int64) for `target`, given the logits (or probabilities) of the images.

    target: "predicted", "true" (needs `labels`), a class name (needs `class_names`), a class index,
            or one class index per image.
    """
    logits = np.asarray(logits)
    n, classes = logits.shape
    if isinstance(target, str):
        if target == "predicted":
            return logits.argmax(axis=1).astype(np.int64)
        if target == "true":
            if labels is None:
                raise ValueError("target 'true' needs the images' labels")
            target = np.asarray(labels)
        elif class_names is not None and target in class_names:
            target = list(class_names).index(target)
        else:
            names = f", a class name ({', '.join(class_names)})" if class_names is not None else ""
            raise ValueError(
                f"target must be 'predicted', 'true'{names}, a class index or one per image; got {target!r}"
            )
    targets = np.asarray(target)
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"target class indices must be integers, got {targets.dtype}")
    if targets.ndim > 1 or (targets.ndim == 1 and len(targets) != n):
        raise ValueError(f"give one target class per image ({n}), got shape {targets.shape}")
    targets = np.broadcast_to(targets, (n,)).astype(np.int64)
    if n and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(f"target class must be in 0..{classes - 1}, got {target}")
    return targets


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
    from . import analysis, models

    spec = get(method)
    engine = engine or spec.engine
    if engine not in ("innvestigate", "reference"):
        raise ValueError(f"engine must be 'innvestigate' or 'reference', got {engine!r}")
    if spec.analyzer == "random":
        spec.value(value)
        return np.random.default_rng(seed).random(images.shape)
    targets = resolve_targets(target, models.logits(model, images), labels)
    if engine == "reference":
        if not spec.is_lrp:
            raise ValueError(f"{spec.title} is computed by iNNvestigate only")
        network = ref.from_keras(model)
        return network.explain(images, spec.how(value, network), targets).input
    network = ref.from_keras(model) if spec.is_lrp else None
    with analysis.Analyzer(model, spec.how(value, network)) as analyzer:
        relevance = analyzer.analyze(images, targets)
    return np.abs(relevance) if spec.absolute else relevance


def relevance_maps(model, images: np.ndarray, method: str, value=None, target="predicted", **options) -> np.ndarray:
    """(N, H, W) maps: `explain`'s relevance summed over the colour channels (magnitudes for
    `absolute` methods such as sensitivity: |gradient| summed, as in Samek et al. 2017)."""
    return explain(model, images, method, value, target, **options).sum(axis=-1)
