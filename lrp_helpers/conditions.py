"""Which channels a conditional explanation keeps (Concept Relevance Propagation, Achtibat et al. 2023, Nature
Machine Intelligence): one vocabulary for every engine, as `targets` is for the explained class.

    condition = {"block2_conv2": [7, 12]}             # channels 7 and 12 of block2_conv2, for every image
    condition = {"block2_conv2": chosen}              # booleans (images, channels): a choice per image
    condition = {"dense": [3], "block2_conv2": [7]}   # several layers: each masks in turn

As the backward pass reaches the output of a layer the condition names, the relevance of every channel (the last
axis) the condition leaves out is set to zero; only the rest propagates on. Each engine applies the masks in
its own backward pass and resolves them here, so a check that compares two engines compares their masking too.
This module imports nothing else of the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def check_layers(condition: Mapping | None, layers: Sequence[str]) -> dict:
    """The condition as a dict ({} for None), refused with a clear error if it names a layer not in `layers`
    (the layers whose output every path from the logits to the input passes)."""
    condition = dict(condition or {})
    unknown = [name for name in condition if name not in layers]
    if unknown:
        raise ValueError(
            f"the condition names {unknown}, which is not a layer this network can condition on; "
            f"choose among {', '.join(layers)}"
        )
    return condition


def kept(layer: str, channels, images: int, count: int) -> np.ndarray:
    """Booleans (images, count): True for the channels the condition keeps at the output of `layer`, which has
    `count` channels. `channels`: channel indices (the same for every image) or booleans (images, count)."""
    chosen = np.asarray(channels)
    if chosen.dtype == bool:
        if chosen.shape != (images, count):
            raise ValueError(
                f"the condition on {layer!r} is a boolean mask of shape {chosen.shape}; it must have one row per "
                f"image and one column per channel: {(images, count)}"
            )
        return chosen
    if chosen.ndim != 1 or len(chosen) == 0 or not np.issubdtype(chosen.dtype, np.integer):
        raise ValueError(
            f"the condition on {layer!r} must be a non-empty list of channel indices (or a boolean mask, images × "
            f"channels), got {channels!r}"
        )
    outside = sorted({int(c) for c in chosen if not 0 <= c < count})
    if outside:
        raise ValueError(f"{layer!r} has channels 0..{count - 1}; the condition asks for {outside}")
    mask = np.zeros((images, count), bool)
    mask[:, chosen] = True
    return mask
