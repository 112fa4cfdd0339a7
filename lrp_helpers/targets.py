"""Which class an explanation explains: one vocabulary for every engine and every notebook.

    targets.resolve("predicted", logits)              # the class each image is predicted as
    targets.resolve("true", logits, labels)           # its label
    targets.resolve("horse", logits, class_names=names), targets.resolve(3, logits)

Each engine resolves targets on its own, from its own logits: a check that compares two engines does not
hand one engine's choice to the other. This module imports nothing else of the package.
"""

from __future__ import annotations

import numpy as np


def resolve(target, logits: np.ndarray, labels=None, class_names=None) -> np.ndarray:
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
