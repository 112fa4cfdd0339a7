"""Concepts inside the network (notebook 11): the measures of Concept Relevance Propagation (Achtibat et al. 2023,
Nature Machine Intelligence) on a sequential Keras model, computed with our TensorFlow engine.

    with engine.Engine(model, rule) as lrp:
        decision = concepts.measure(lrp, images, "block2_conv2", target="predicted")
        top = concepts.top_channels(decision.relevance, 6)                      # per image, its 6 channels
        maps = concepts.conditional_heatmaps(lrp, images[[0] * 6], "block2_conv2", top[0], decision.targets[0])
        atlas = concepts.concept_atlas(lrp, data.x_test, data.y_test, "block2_conv2", k=8)

Definitions, for a layer with channels c (the last axis) and an explained class y:

- Channel relevance R_c(x | y): the relevance at the layer's output in channel c, summed over the positions. The
  channel relevances of a layer add up to the layer's relevance; a dense layer's units are its channels.
- Conditional heatmap R(x | c, y): the input relevance that flows through channel c alone (`lrp_helpers.conditions`).
  The maps of all channels of a layer add up to the unconditional map.
- Relevance maximisation (RelMax): the reference images of channel c are the k images of a dataset with the largest
  R_c(x | y), y the image's true class. This is zennit-crp's `ChannelConcept.reference_sampling` with
  `max_target="sum"`; with `normalise=True`, R_c(x | y) / Σ_c' |R_c'(x | y)|, the share of the image's relevance
  at the layer, as zennit-crp's `abs_norm=True` (its FeatureVisualization's default) divides.
- Activation maximisation (ActMax): the k images with the largest maximum over positions of the channel's output
  (the layer's own output: before a ReLU that is a layer of its own). zennit-crp offers this as
  `max_target="max"`; its FeatureVisualization ranks activations by default like relevance (summed, normalised),
  we use the maximum, the classic definition of the images that "excite" a unit.
- Crop: the box around the pixels whose conditional relevance, summed over the colour channels, exceeds
  `threshold` × its largest value (zennit-crp's `crop_th`, 0.1; it first blurs the map with a Gaussian of 19
  pixels, made for 224-pixel images, not for 32-pixel CIFAR-10 ones). The heatmap is R(x | c, y) from the logit
  down, for RelMax and ActMax images alike. zennit-crp starts every reference crop at the layer instead, from the
  channel's activation at its most relevant position (its issue 11 proposes the whole backward pass for RelMax).
- Switching channels off: their output at the layer is set to zero at every position; the logits the rest of the
  network then computes (`Switch`) measure what the channels contributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import conditions, engine
from .graphs import OwnGraph
from .targets import resolve as resolve_targets


@dataclass
class LayerConcepts:
    """One layer's channels, per image: relevance (N, C), R_c(x | y) explaining `targets`; activation (N, C), the
    maximum of each channel's output over the positions; logits: the explained logit of each image."""

    layer: str
    relevance: np.ndarray
    activation: np.ndarray
    targets: np.ndarray
    logits: np.ndarray


def measure(lrp: engine.Engine, images: np.ndarray, layer: str, target="predicted", batch_size=256) -> LayerConcepts:
    """Channel relevance and activation of `layer` for every image: forward passes, and a backward pass only down
    to `layer` (the relevance of all its channels at once needs no condition)."""
    explained = lrp.explain(images, target, batch_size, at=[layer])
    output = lrp.activations_at(images, [layer], batch_size)[layer]
    relevance = _per_channel(explained.layers[layer]).sum(axis=1)
    activation = _per_channel(output).max(axis=1)
    return LayerConcepts(layer, relevance, activation, explained.targets, explained.logits)


def _per_channel(values: np.ndarray) -> np.ndarray:
    """(N, positions, C) from (N, ..., C): a dense layer has one position."""
    return values.reshape(len(values), -1, values.shape[-1])


def relevance_scores(relevance: np.ndarray, normalise: bool = False) -> np.ndarray:
    """RelMax's score of each image for each channel (module doc): R_c(x | y), or with `normalise` its share
    R_c / Σ_c' |R_c'| (0 where the image has no relevance at the layer)."""
    if not normalise:
        return relevance
    total = np.abs(relevance).sum(axis=1, keepdims=True)
    return np.divide(relevance, total, out=np.zeros_like(relevance), where=total > 0)


def top_channels(scores: np.ndarray, k: int) -> np.ndarray:
    """(N, k): per image, the k channels with the largest score, largest first (ties: the lower index first)."""
    return _largest(scores, k)


def top_images(scores: np.ndarray, k: int) -> np.ndarray:
    """(C, k): per channel, the k images with the largest score, largest first (ties: the lower index first)."""
    return _largest(scores.T, k)


def _largest(rows: np.ndarray, k: int) -> np.ndarray:
    if not 0 < k <= rows.shape[1]:
        raise ValueError(f"k must be between 1 and {rows.shape[1]}, got {k}")
    return np.argsort(-rows, axis=1, kind="stable")[:, :k]


def shared_share(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row (a channel's reference images, two ways), the share of `first`'s images that `second` holds too."""
    return np.array([len(set(a) & set(b)) / len(a) for a, b in zip(first, second)])


def conditional_heatmaps(
    lrp: engine.Engine, images: np.ndarray, layer: str, channels, target="predicted", batch_size=64
) -> np.ndarray:
    """(N, H, W): the input relevance of images[i] through channel channels[i] of `layer` alone, summed over the
    colour channels, explaining `target` (`lrp_helpers.targets`). All (image, channel) pairs run as one batch
    of conditions: repeat an image to see several of its channels."""
    channels = np.asarray(channels)
    if channels.shape != (len(images),) or not np.issubdtype(channels.dtype, np.integer):
        raise ValueError(f"give one channel index per image ({len(images)}), got {channels!r}")
    conditions.check_layers({layer: channels}, list(lrp.activations))
    count = lrp.channel_masks[layer].shape[-1]
    conditions.kept(layer, np.unique(channels), 1, count)  # refuses channels the layer does not have
    chosen = np.eye(count, dtype=bool)[channels]
    explained = lrp.explain(images, target, batch_size, condition={layer: chosen}, at=["input"])
    return explained.input.sum(axis=-1)


def crop_box(heatmap: np.ndarray, threshold: float = 0.1) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), ends exclusive: the smallest box holding every pixel of the (H, W) heatmap whose
    relevance exceeds `threshold` × its largest; the whole map where no relevance is positive."""
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    peak = heatmap.max()
    if peak <= 0:
        return 0, heatmap.shape[0], 0, heatmap.shape[1]
    rows, columns = np.nonzero(heatmap > threshold * peak)
    return int(rows.min()), int(rows.max()) + 1, int(columns.min()), int(columns.max()) + 1


def crops(images: np.ndarray, chosen: np.ndarray, boxes: np.ndarray) -> list[list[np.ndarray]]:
    """Per row of `chosen` ((S, k) image indices) and `boxes` ((S, k, 4), `crop_box`), its k images cut to their
    boxes."""
    return [
        [images[i][top:bottom, left:right] for i, (top, bottom, left, right) in zip(row, row_boxes)]
        for row, row_boxes in zip(chosen, boxes)
    ]


@dataclass
class Atlas:
    """Reference images of a layer's channels over a dataset (module doc), by RelMax and by ActMax.

    concepts:       every image's channel relevance and activation (`LayerConcepts`), explaining its true class
    channels:       the channels shown, (S,)
    by_relevance:   (S, k) image indices, RelMax, the largest first; by_activation: the same by ActMax
    relevance_maps, activation_maps: (S, k, H, W) the conditional heatmap of each reference image
    relevance_boxes, activation_boxes: (S, k, 4) each one's crop (`crop_box`)
    """

    concepts: LayerConcepts
    channels: np.ndarray
    by_relevance: np.ndarray
    by_activation: np.ndarray
    relevance_maps: np.ndarray
    activation_maps: np.ndarray
    relevance_boxes: np.ndarray
    activation_boxes: np.ndarray

    def shared(self) -> np.ndarray:
        """Per channel shown, the share of its RelMax images that are among its ActMax images too."""
        return shared_share(self.by_relevance, self.by_activation)


def concept_atlas(
    lrp: engine.Engine,
    images: np.ndarray,
    labels: np.ndarray,
    layer: str,
    k: int = 8,
    channels=None,
    normalise: bool = False,
    threshold: float = 0.1,
    batch_size: int = 256,
) -> Atlas:
    """The atlas of `layer` over `images` (module doc): RelMax explains each image's true class (`labels`), as
    zennit-crp does; `channels` default: all of the layer's."""
    concepts = measure(lrp, images, layer, labels, batch_size)
    shown = np.arange(concepts.relevance.shape[1]) if channels is None else np.asarray(channels)
    by_relevance = top_images(relevance_scores(concepts.relevance, normalise), k)[shown]
    by_activation = top_images(concepts.activation, k)[shown]
    both = np.concatenate([by_relevance, by_activation])  # one batch of conditions for the two sets
    maps = _reference_maps(lrp, images, labels, layer, np.concatenate([shown, shown]), both, batch_size)
    boxes = np.array([[crop_box(heatmap, threshold) for heatmap in row] for row in maps])
    return Atlas(concepts, shown, by_relevance, by_activation, *np.split(maps, 2), *np.split(boxes, 2))


def _reference_maps(lrp, images, labels, layer, channels, chosen, batch_size) -> np.ndarray:
    """(S, k, H, W): the conditional heatmap of each chosen image (`chosen`: (S, k) indices) through its channel."""
    flat = chosen.ravel()
    per_pair = np.repeat(channels, chosen.shape[1])
    maps = conditional_heatmaps(lrp, images[flat], layer, per_pair, np.asarray(labels)[flat], batch_size)
    return maps.reshape(*chosen.shape, *maps.shape[1:])


class Switch(OwnGraph):
    """The logits of `model` with chosen channels of `layer` switched off: their output set to zero at every
    position, the rest of the network unchanged. It runs a copy of the model in a graph of its own (as
    `engine.Engine` does), so it can be asked again and again at a constant cost."""

    def __init__(self, model, layer: str):
        names = [candidate.name for candidate in model.layers]
        if layer not in names:
            raise ValueError(f"the model has no layer {layer!r}; choose among {', '.join(names)}")
        self.layer = layer
        super().__init__()
        rebuilt = self.rebuild(model)
        with self.inside():
            self._build(rebuilt)

    def _build(self, model):
        self.images = tf.compat.v1.placeholder(tf.float32, (None, *model.input_shape[1:]))
        x = self.images
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            if type(layer).__name__ == "Activation" and layer.get_config()["activation"] == "softmax":
                break  # the logits, not the probabilities
            x = layer(x)
            if layer.name == self.layer:
                self.channels = x.shape[-1]
                self.kept = tf.compat.v1.placeholder(tf.float32, (None, self.channels))
                x = x * tf.reshape(self.kept, [-1, *[1] * (len(x.shape) - 2), self.channels])
        self.output = x  # the logits

    def logits(self, images: np.ndarray, off=None, batch_size: int = 256) -> np.ndarray:
        """(N, classes) with the channels `off` switched off (`lrp_helpers.conditions`' vocabulary: channel indices
        for every image, or booleans (images, channels); None: none)."""
        off_mask = np.zeros((len(images), self.channels), bool)
        if off is not None:
            off_mask = conditions.kept(self.layer, off, len(images), self.channels)
        kept = (~off_mask).astype(np.float32)
        with self.inside():
            return np.concatenate(
                [
                    self.session.run(
                        self.output, {self.images: images[i : i + batch_size], self.kept: kept[i : i + batch_size]}
                    )
                    for i in range(0, len(images), batch_size)
                ]
            )

    def logit_drop(self, images: np.ndarray, off, target="predicted", batch_size: int = 256) -> np.ndarray:
        """(N,): the explained logit (`target`, resolved on the intact network) minus the same logit with `off`
        switched off."""
        intact = self.logits(images, None, batch_size)
        targets = resolve_targets(target, intact)
        rows = np.arange(len(images))
        return intact[rows, targets] - self.logits(images, off, batch_size)[rows, targets]
