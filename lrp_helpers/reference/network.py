"""A network of the reference's layers, its explanation, and conservation: where the relevance goes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import conditions, rules
from ..rules import Composite
from ..targets import resolve as resolve_targets
from .layers import Layer, _forward, _names, _propagate


def linear_layers(network: Network) -> list[tuple[str, str]]:
    """(name, kind) of the network's linear layers, bottom up: what `rules.depth_composite` takes."""
    return [(layer.name, layer.kind) for layer in network.layers if layer.has_weights]


def depth_composite(network: Network, gamma=0.25, epsilon=0.25, low=0.0, high=1.0) -> Composite:
    """`rules.depth_composite` for this network's layers."""
    return rules.depth_composite(linear_layers(network), gamma, epsilon, low, high)


# ---------------------------------------------------------------------------------------------
# The network and the backward pass.
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Explanation:
    """The result of `Network.explain`.

    input:   relevance of each input pixel and channel, shape (N, H, W, C)
    layers:  relevance at the *output* of each layer, by layer name, in forward order
    logits:  the explained logit of each image (the relevance put in at the top), shape (N,)
    targets: the explained class of each image
    """

    input: np.ndarray
    layers: dict[str, np.ndarray]
    logits: np.ndarray
    targets: np.ndarray

    def by_layer(self) -> tuple[list[str], list[np.ndarray]]:
        """Names and relevance bottom-up, starting with the input: ready for `conservation`."""
        return ["input", *self.layers], [self.input, *self.layers.values()]


@dataclass(eq=False)
class Network:
    """A network of the layers above, in sequence (residual connections as `Residual` layers), without the
    final softmax (LRP explains logits)."""

    layers: list[Layer]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """The input to every layer, then the network output: len(layers) + 1 arrays."""
        return _forward(self.layers, x)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def explain(self, x: np.ndarray, rule: rules.Rule | Composite, target=None, condition=None) -> Explanation:
        """Explain the logit of `target` (None: the predicted class; an int; or one per image).

        condition: Concept Relevance Propagation (Achtibat et al. 2023): {layer name: channels}
        (`lrp_helpers.conditions`). As the backward pass reaches the output of a named layer, the relevance of
        the channels (last axis) the condition leaves out is set to zero, and only the rest goes on; with several
        layers each masks in turn. `layers` then holds the masked relevance at the named layers, and, below
        them, the relevance that came through the kept channels alone.

        Completeness: every rule (ε, γ, αβ, zᴮ, w², flat, for any composite), the layers without weights
        (pooling's routing, reshaping) and the residual split are linear in the relevance they receive, their
        weights and denominators fixed by the forward pass. So the explanations conditioned on each channel of a
        layer, one at a time, add up to the unconditional explanation at every layer below it and at the input.
        A condition can name the layers of `self.layers` (each is on every path from the logits to the input),
        not layers inside a residual block, around which relevance also flows.
        """
        condition = conditions.check_layers(condition, [layer.name for layer in self.layers])
        activations = self.forward(x)
        logits = activations[-1]
        explained = resolve_targets("predicted" if target is None else target, logits)
        R = np.zeros_like(logits)
        rows = np.arange(len(logits))
        R[rows, explained] = logits[rows, explained]
        by_layer = {}
        R = _propagate(self.layers, activations, R, rules.as_composite(rule), by_layer, condition)
        return Explanation(
            input=R,
            layers={name: by_layer[name] for name in _names(self.layers)},
            logits=logits[rows, explained],
            targets=explained,
        )


# ---------------------------------------------------------------------------------------------
# Conservation: where does the relevance go?
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Conservation:
    """Relevance totals layer by layer, for a batch.

    names:  layer names, bottom (input) to top
    totals: sum of relevance per image at each layer's output, shape (layers, images);
            totals[0] is the input relevance, totals[-1] the explained logit
    """

    names: list[str]
    totals: np.ndarray

    @property
    def input_share(self) -> np.ndarray:
        """Per image: input relevance / explained logit (1 = perfectly conserved)."""
        return self.totals[0] / self.totals[-1]

    @property
    def absorbed_share(self) -> np.ndarray:
        """Per layer (names[1:]) and image: the share of the explained logit the layer kept
        (by its bias, ε, or the rule) instead of passing on to its input."""
        return (self.totals[1:] - self.totals[:-1]) / self.totals[-1]

    def table(self, layers=None) -> list[dict]:
        """Rows of mean values, one per layer (all layers, or just those named in `layers`)."""
        rows = []
        for i, name in enumerate(self.names[1:], start=1):
            if layers is not None and name not in layers:
                continue
            rows.append(
                {
                    "layer": name,
                    "arriving": float(self.totals[i].mean()),
                    "leaving": float(self.totals[i - 1].mean()),
                    "absorbed_share": float(self.absorbed_share[i - 1].mean()),
                }
            )
        return rows


def conservation(names: list[str], relevances: list[np.ndarray]) -> Conservation:
    """`relevances[i]` is the relevance at the output of layer `names[i]`; index 0 is the input.
    Works for the reference (`Explanation.by_layer()`) and iNNvestigate (`LayerRelevance`)."""
    totals = np.stack([np.asarray(r, np.float64).reshape(len(r), -1).sum(axis=1) for r in relevances])
    return Conservation(list(names), totals)
