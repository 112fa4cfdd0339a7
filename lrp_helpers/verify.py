"""Checking iNNvestigate against the independent NumPy reference, layer by layer.

The two implementations compute in different precisions (TensorFlow in float32, the reference in
float64). Wherever the network makes a discontinuous choice on values that float32 cannot tell
apart, they may legitimately disagree: a max-pooling window whose two largest values differ by
less than float32 rounding sends *all* its relevance to a different input. `ambiguous_images`
finds the images where that can happen, so a comparison can leave them out and say so.
LRP-0 has a second such place: it divides by pre-activations z with no stabiliser, and where |z| is
close to float32's rounding error in computing z, the quotient is ill-conditioned. `lrp0_sensitivity`
measures how far that can move an image's map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference


def pooling_margins(network: reference.Network, images: np.ndarray) -> np.ndarray:
    """Per image, the smallest gap between a max-pool window's maximum and the next lower value,
    relative to the largest value entering that pooling layer. Exact ties (equal in any precision,
    such as BatchNorm applied to the many zeros a ReLU produces) do not count as gaps."""
    margins = np.full(len(images), np.inf)
    activations = network.forward(images)
    for layer, a in zip(network.layers, activations):
        if not isinstance(layer, (reference.MaxPool2D, reference.MaxPool1D)):
            continue
        windows = layer._windows(a)
        top = windows.max(axis=-1, keepdims=True)
        below = np.where(windows < top, windows, -np.inf).max(axis=-1)
        gap = (top[..., 0] - below).reshape(len(a), -1)
        scale = np.abs(a).reshape(len(a), -1).max(axis=1)
        margins = np.minimum(margins, gap.min(axis=1) / scale)
    return margins


def ambiguous_images(network, images, tolerance: float = 1e-6) -> np.ndarray:
    """True for images with a max-pool near-tie that float32 rounding could flip."""
    return pooling_margins(network, images) < tolerance


FLOAT32_ROUNDING = np.finfo(np.float32).eps / 2  # unit roundoff: 2⁻²⁴


class _RoundedDenominators:
    """LRP-0 with each denominator z_k moved by one float32 rounding step of its terms, in a random
    direction: u · (Σ_j |a_j w_jk| + |b_k|), the error float32 can make in computing z_k. A variant the
    reference runs as it is (`reference.implementation`); no other engine knows it."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def relevance(self, layer, a, R):
        z = layer.apply(a, layer.weight, layer.bias)
        rounding = FLOAT32_ROUNDING * layer.apply(np.abs(a), np.abs(layer.weight), np.abs(layer.bias))
        z = z + self.rng.choice([-1.0, 1.0], size=z.shape) * rounding
        return a * layer.backward(reference._safe_divide(R, z), layer.weight)


def lrp0_sensitivity(network: reference.Network, images, targets, repeats: int = 3, seed: int = 0) -> np.ndarray:
    """Per image, the largest change of the LRP-0 map, relative to its largest |relevance|, when every
    denominator is moved by float32's rounding error (float64 otherwise, `repeats` random draws).

    A float32 implementation of LRP-0 can be off by about this much on an image through no fault
    of its own; where it is large, the image is no test of the implementation.
    """
    exact = network.explain(images, reference.LRP0(), targets).input
    scale = np.abs(exact).reshape(len(images), -1).max(axis=1)
    rng = np.random.default_rng(seed)
    sensitivity = np.zeros(len(images))
    for _ in range(repeats):
        moved = network.explain(images, _RoundedDenominators(rng), targets).input
        change = np.abs(moved - exact).reshape(len(images), -1).max(axis=1) / scale
        sensitivity = np.maximum(sensitivity, change)
    return sensitivity


@dataclass
class Agreement:
    """Largest |iNNvestigate − reference| per layer, relative to that layer's largest |relevance|."""

    layers: list[str]
    relative_error: np.ndarray
    images_compared: int
    images_left_out: int

    @property
    def worst(self) -> float:
        return float(self.relative_error.max())


def compare(
    analyzer, network: reference.Network, rule, images: np.ndarray, target="predicted", tolerance: float = 1e-6
) -> Agreement:
    """Run both engines on the unambiguous `images`, each resolving `target` on its own, and compare every
    layer's relevance (`agreement`).

    `analyzer` must be an `lrp_helpers.analysis.Analyzer` built with keep_layers=True.
    """
    keep = ~ambiguous_images(network, images, tolerance)
    if not isinstance(target, str) and np.ndim(target) == 1:
        target = np.asarray(target)[keep]  # one class per image: keep those of the kept images
    images = images[keep]
    theirs = analyzer.relevance_per_layer(images, target)
    ours = network.explain(images, rule, target)
    return agreement(theirs, ours, int((~keep).sum()))


def agreement(theirs, ours: reference.Explanation, images_left_out: int = 0) -> Agreement:
    """Largest difference per layer between two explanations of the same images: `theirs` with
    `names` (the input first), `relevance` and `targets` (an `analysis.LayerRelevance`), and the reference's."""
    different = np.flatnonzero(np.asarray(theirs.targets) != ours.targets)
    if len(different):
        raise ValueError(
            f"the two engines explain different classes for images {different.tolist()}: their logits disagree "
            "(a near-tie between two classes); pass the classes to explain as the target"
        )
    names, errors = [], []
    for name, relevance in zip(theirs.names, theirs.relevance):
        expected = ours.input if name == theirs.names[0] else ours.layers[name]
        names.append(name)
        errors.append(np.abs(relevance - expected).max() / np.abs(expected).max())
    return Agreement(names, np.array(errors), len(ours.targets), images_left_out)
