"""Is an explanation faithful? Region perturbation (AOPC) and the model-randomisation check.

Region perturbation — Samek, Binder, Montavon, Lapuschkin & Müller, "Evaluating the visualization
of what a deep neural network has learned", IEEE TNNLS 2017. Split the image into square regions,
order them by their summed relevance, and replace them one after another (most relevant first,
"MoRF") with uninformative values, recording the explained logit f after each step. The area over
the perturbation curve,

    AOPC = 1/(L+1) * sum_{k=0..L} ( f(x^(0)) - f(x^(k)) ),

averaged over images, is large when the regions the explanation calls relevant really drive the
output. Least relevant first ("LeRF") is the mirror image: a good explanation keeps f high.

Model-parameter randomisation — Adebayo, Gilmer, Muelly, Goodfellow, Hardt & Kim, "Sanity checks
for saliency maps", NeurIPS 2018. Re-initialise the layers' weights one by one from the top
("cascading"), recompute the explanations, and measure how similar they stay to the original
(Spearman rank correlation, SSIM). An explanation that barely changes when the model's learned
weights are destroyed cannot be explaining what the model learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def region_relevance(relevance_maps: np.ndarray, region: int = 4) -> np.ndarray:
    """Sum (N, H, W) relevance maps over non-overlapping region x region squares, row by row:
    (N, H/region * W/region)."""
    n, h, w = relevance_maps.shape
    blocks = relevance_maps.reshape(n, h // region, region, w // region, region)
    return blocks.sum(axis=(2, 4)).reshape(n, -1)


def region_order(relevance_maps: np.ndarray, region: int = 4, most_relevant_first: bool = True) -> np.ndarray:
    """Per image, the region indices sorted by summed relevance (ties: lower index first)."""
    scores = region_relevance(relevance_maps, region)
    return np.argsort(-scores if most_relevant_first else scores, axis=1, kind="stable")


def removed_pixels(order: np.ndarray, steps: int, region: int, shape: tuple) -> np.ndarray:
    """(N, H, W) booleans: the pixels of the first `steps` regions of each image's `order`, i.e. what
    `perturbation_curves` has replaced after that many steps; `shape` is (N, H, W)."""
    n, h, w = shape
    regions = np.zeros((n, (h // region) * (w // region)), dtype=bool)
    np.put_along_axis(regions, order[:, :steps], True, axis=1)
    blocks = regions.reshape(n, h // region, 1, w // region, 1)
    return np.broadcast_to(blocks, (n, h // region, region, w // region, region)).reshape(n, h, w)


def perturbation_curves(
    logit_fn,
    images: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    replacement,
    region: int = 4,
    steps: int | None = None,
    images_per_call: int = 4096,
) -> np.ndarray:
    """The explained logit after replacing 0, 1, ..., steps regions in the given order.

    logit_fn:    images -> logits, shape (N, classes)
    order:       (N, regions) region indices, the order in which to perturb
    replacement: (N, H, W, C) values that replace a region's pixels (e.g. uniform noise), or a
                 function (images, removed) -> images that fills the removed pixels ((N, H, W)
                 booleans) from the rest, such as `NoisyLinearImputation`
    images_per_call: the perturbed images of several steps go to `logit_fn` together, up to this
                 many (one call per step would pay the per-call cost of `predict` every time)
    Returns (N, steps + 1); column 0 is the unperturbed logit.
    """
    n, h, w, _ = images.shape
    per_row = w // region
    steps = order.shape[1] if steps is None else steps
    current, removed = images.copy(), np.zeros((n, h, w), dtype=bool)
    rows = np.arange(n)
    perturbed, curves = [current.copy()], []
    for k in range(steps + 1):
        if k > 0:
            top, left = (order[:, k - 1] // per_row) * region, (order[:, k - 1] % per_row) * region
            for i in range(n):
                removed[i, top[i] : top[i] + region, left[i] : left[i] + region] = True
            if callable(replacement):
                current = replacement(images, removed)
            else:
                current = np.where(removed[..., None], replacement, images)
            perturbed.append(current.copy())
        if k == steps or (len(perturbed) + 1) * n > images_per_call:
            logits = logit_fn(np.concatenate(perturbed)).reshape(len(perturbed), n, -1)
            curves.extend(logits[:, rows, targets])
            perturbed = []
    return np.stack(curves, axis=1)


# The weights of a pixel's eight neighbours in ROAD's imputation: 1/6 sideways, 1/12 diagonally (sum 1).
_NEIGHBOUR_WEIGHTS = [
    ((dy, dx), 1 / 6 if dy == 0 or dx == 0 else 1 / 12) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)
]


@dataclass(frozen=True)
class NoisyLinearImputation:
    """ROAD's replacement (RemOve And Debias; Rong, Leemann, Borisov, Kasneci & Kasneci, ICML 2022).

    Every removed pixel becomes the weighted mean of its eight neighbours (weights 1/6 sideways,
    1/12 diagonally; removed neighbours count with their own imputed values, so all removed pixels
    of an image are one sparse linear system), plus Gaussian noise of standard deviation `noise`.
    The image stays close to natural image statistics, and the shape of the removed set tells the
    network little. Calling it twice with the same arguments gives the same images (`seed`).
    """

    noise: float = 0.01
    seed: int = 0

    def __call__(self, images: np.ndarray, removed: np.ndarray) -> np.ndarray:
        """`images` (N, H, W, C) with their `removed` (N, H, W) pixels imputed, all in one sparse
        system (one block per image)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.linalg import spsolve

        n, h, w, channels = images.shape
        flat = images.reshape(-1, channels).astype(np.float64)
        unknown = np.flatnonzero(removed)
        if len(unknown) == 0:
            return images.copy()
        variable = np.full(n * h * w, -1)
        variable[unknown] = np.arange(len(unknown))
        image, pixel = np.divmod(unknown, h * w)
        y, x = np.divmod(pixel, w)
        diagonal, known_sum = np.zeros(len(unknown)), np.zeros((len(unknown), channels))
        rows, columns, values = [np.arange(len(unknown))], [np.arange(len(unknown))], [diagonal]
        for (dy, dx), weight in _NEIGHBOUR_WEIGHTS:
            inside = (y + dy >= 0) & (y + dy < h) & (x + dx >= 0) & (x + dx < w)
            equation = np.flatnonzero(inside)
            neighbour = (image * h * w + (y + dy) * w + (x + dx))[inside]
            diagonal[equation] += weight
            is_unknown = variable[neighbour] >= 0
            rows.append(equation[is_unknown])
            columns.append(variable[neighbour[is_unknown]])
            values.append(np.full(is_unknown.sum(), -weight))
            known_sum[equation[~is_unknown]] += weight * flat[neighbour[~is_unknown]]
        entries = (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns)))
        system = coo_matrix(entries, shape=(len(unknown),) * 2).tocsc()
        # Symmetric (a neighbour pair shares one weight), so a symmetric fill-reducing ordering: 2x faster.
        solved = spsolve(system, known_sum, permc_spec="MMD_AT_PLUS_A").reshape(len(unknown), channels)
        flat[unknown] = solved + np.random.default_rng(self.seed).normal(0.0, self.noise, solved.shape)
        return flat.reshape(images.shape).astype(images.dtype)


def aopc(curves: np.ndarray) -> np.ndarray:
    """Area over the perturbation curve per image: mean over k of (f(x^(0)) - f(x^(k)))."""
    return (curves[:, :1] - curves).mean(axis=1)


# ---------------------------------------------------------------------------------------------
# Model-parameter randomisation.
# ---------------------------------------------------------------------------------------------


def weight_layers_top_down(model) -> list[str]:
    """Names of the layers with a kernel (Conv2D, Dense), from the output down."""
    return [layer.name for layer in reversed(model.layers) if hasattr(layer, "kernel")]


def random_kernel(shape: tuple, dtype, rng: np.random.Generator) -> np.ndarray:
    """A kernel drawn from Keras' default initialiser (Glorot uniform), seeded from `rng`."""
    import tensorflow as tf

    initializer = tf.keras.initializers.GlorotUniform(seed=int(rng.integers(2**31)))
    return tf.keras.backend.get_value(initializer(shape, dtype=dtype))


def randomise_layer(model, weights: list[np.ndarray], name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """`weights` (a list like `model.get_weights()`) with layer `name` re-initialised: a Glorot-uniform
    kernel (Keras' default initialiser) seeded from `rng`, zero bias. `weights` is not changed."""
    first = 0
    for layer in model.layers:  # get_weights() lists each layer's weights in turn
        if layer.name == name:
            break
        first += len(layer.weights)
    else:
        raise ValueError(f"the model has no layer {name!r}")
    kernel = weights[first]
    bias = range(first + 1, first + len(model.get_layer(name).weights))
    return [
        random_kernel(kernel.shape, kernel.dtype, rng) if i == first else np.zeros_like(w) if i in bias else w
        for i, w in enumerate(weights)
    ]


def cascading_randomisation(model, seed: int = 0) -> list[tuple[str, list[np.ndarray]]]:
    """Per stage, top down: (layer name, the model's weights with that layer and every layer above it
    randomised, as `randomise_layer` does). BatchNormalization statistics stay as trained; `model` is
    not changed. Load a stage with `models.copy_in_own_graph(model, weights)`."""
    rng = np.random.default_rng(seed)
    weights, stages = model.get_weights(), []
    for name in weight_layers_top_down(model):
        weights = randomise_layer(model, weights, name, rng)
        stages.append((name, weights))
    return stages


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per image between two stacks of maps (N, ...)."""
    from scipy.stats import spearmanr

    return np.array([spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b)])


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Structural similarity per image between two stacks of 2-D maps, each scaled to [0, 1] by
    its own maximum (the maps must be non-negative, e.g. absolute relevance)."""
    from skimage.metrics import structural_similarity

    def scaled(x):
        top = x.max()
        return x / top if top > 0 else x

    return np.array([structural_similarity(scaled(x), scaled(y), data_range=1.0) for x, y in zip(a, b)])


@dataclass
class RandomisationResult:
    """Similarity to the original explanation after randomising each layer (top down).

    layers: the layer randomised last at each stage
    spearman, ssim: (stages, images) similarities of the absolute relevance maps
    """

    layers: list[str]
    spearman: np.ndarray
    ssim: np.ndarray
