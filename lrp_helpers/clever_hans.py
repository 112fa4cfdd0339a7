"""A planted shortcut ("Clever Hans"), how much relevance lands on it, and SpRAy clustering.

Poisoning: a small coloured square stamped into a corner of most training images of one class.
A network can then learn "square -> class" instead of the class itself (Lapuschkin et al.,
"Unmasking Clever Hans predictors and assessing what machines really learn", Nat. Commun. 2019).

Relevance mass accuracy (Arras, Osman & Samek, "CLEVR-XAI", Information Fusion 2022): the share of
an explanation's positive relevance that falls inside a known region.

SpRAy, spectral relevance analysis (Lapuschkin et al. 2019): cluster many heatmaps of one class to
find groups of images the network decides about in the same way — without knowing the shortcut.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from .data import CIFAR10
from .evaluation import region_relevance

PATCH_SIZE = 4
PATCH_COLOUR = (1.0, 0.0, 1.0)  # magenta: rare in natural images


def patch_mask(height: int = 32, width: int = 32, size: int = PATCH_SIZE, margin: int = 1) -> np.ndarray:
    """Boolean (height, width) mask of the patch: `size` pixels square, `margin` pixels from the
    bottom-right corner."""
    mask = np.zeros((height, width), dtype=bool)
    mask[height - margin - size : height - margin, width - margin - size : width - margin] = True
    return mask


def stamp(images: np.ndarray, colour=PATCH_COLOUR, size: int = PATCH_SIZE) -> np.ndarray:
    """A copy of the images with the patch stamped in."""
    stamped = np.array(images, copy=True)
    stamped[:, patch_mask(images.shape[1], images.shape[2], size)] = np.asarray(colour, dtype=images.dtype)
    return stamped


@dataclass
class Poisoned:
    data: CIFAR10  # the training set with the stamped images; test set unchanged (clean)
    stamped: np.ndarray  # boolean, per training image
    target_class: int


def poison(data: CIFAR10, target_class: int, share: float = 0.8, seed: int = 0) -> Poisoned:
    """Stamp the patch on `share` of the training images of `target_class` (chosen at random)."""
    rng = np.random.default_rng(seed)
    members = np.flatnonzero(data.y_train == target_class)
    chosen = rng.choice(members, size=int(round(share * len(members))), replace=False)
    stamped = np.zeros(len(data.y_train), dtype=bool)
    stamped[chosen] = True
    x_train = data.x_train.copy()
    x_train[stamped] = stamp(data.x_train[stamped])
    return Poisoned(replace(data, x_train=x_train), stamped, target_class)


def relevance_mass(relevance_maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per map (N, ...): positive relevance inside `mask` / all positive relevance (0 if none).
    `mask` is boolean, one for all maps (shape ...) or one per map (shape N, ...)."""
    positive = np.maximum(relevance_maps, 0)
    total = positive.reshape(len(positive), -1).sum(axis=1)
    inside = np.where(mask, positive, 0).reshape(len(positive), -1).sum(axis=1)
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


# ---------------------------------------------------------------------------------------------
# SpRAy
# ---------------------------------------------------------------------------------------------


def spray_features(relevance_maps: np.ndarray, size: int = 8) -> np.ndarray:
    """Downsample (N, H, W) maps to size x size by summing blocks, keep the positive part, and
    scale each to unit sum: what the network looked at, not how strongly."""

    positive = np.maximum(region_relevance(relevance_maps, relevance_maps.shape[1] // size), 0)
    total = positive.sum(axis=1, keepdims=True)
    return positive / np.where(total > 0, total, 1)


def affinity(features: np.ndarray, neighbours: int = 10) -> np.ndarray:
    """Symmetric k-nearest-neighbour connectivity matrix (dense)."""
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(features, n_neighbors=neighbours, include_self=False).toarray()
    return np.maximum(graph, graph.T)


def laplacian_eigenvalues(adjacency: np.ndarray, count: int = 10) -> np.ndarray:
    """The smallest eigenvalues of the normalised graph Laplacian L = I - D^-1/2 A D^-1/2 (scipy's, which
    counts an isolated node as a component of its own; a k-NN graph has none). L is positive
    semi-definite, and D^1/2 times the indicator of a connected component is an eigenvector of
    eigenvalue 0: eigenvalue 0 has as many eigenvectors as the graph has connected components."""
    from scipy.sparse.csgraph import laplacian

    return np.linalg.eigvalsh(laplacian(np.asarray(adjacency, dtype=float), normed=True))[:count]


ZERO = 1e-8  # eigenvalues below this are zero up to rounding (a component's eigenvalue: about 1e-15)


def components(eigenvalues: np.ndarray) -> int:
    """How many of the eigenvalues are zero: the number of connected components of the graph (if
    `eigenvalues` holds at least one more than that)."""
    return int((np.asarray(eigenvalues) < ZERO).sum())


def largest_gap(eigenvalues: np.ndarray, max_clusters: int = 6) -> int:
    """The eigengap rule: k in 2..max_clusters with the largest gap between the k-th and the
    (k+1)-th smallest eigenvalue. It assumes one connected graph whose clusters are joined by few
    edges; it ignores whether the first eigenvalues are zero."""
    gaps = np.diff(eigenvalues[: max_clusters + 1])
    return int(np.argmax(gaps[1:]) + 2)


def choose_clusters(eigenvalues: np.ndarray, max_clusters: int = 6) -> int:
    """The number of connected components if the graph falls apart (two or more zero eigenvalues,
    at most max_clusters), otherwise the largest eigengap."""
    found = components(eigenvalues[: max_clusters + 1])
    return found if 2 <= found <= max_clusters else largest_gap(eigenvalues, max_clusters)


def purity(truth: np.ndarray, labels: np.ndarray) -> float:
    """Share of the items whose cluster's majority label (in `truth`) is their own: 1 = no cluster
    mixes labels, however many clusters there are."""
    truth, labels = np.asarray(truth), np.asarray(labels)
    majority = sum(np.unique(truth[labels == k], return_counts=True)[1].max() for k in np.unique(labels))
    return majority / len(truth)


def spectral_clusters(adjacency: np.ndarray, clusters: int, seed: int = 0) -> np.ndarray:
    """Spectral clustering of the graph. A k-NN graph of heatmaps may fall apart into several
    connected components: exactly the well-separated groups SpRAy looks for (each component's
    indicator is an eigenvector of eigenvalue 0), so scikit-learn's warning about it is silenced."""
    from sklearn.cluster import SpectralClustering

    model = SpectralClustering(n_clusters=clusters, affinity="precomputed", random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Graph is not fully connected", category=UserWarning)
        return model.fit_predict(adjacency)


@dataclass
class Spray:
    eigenvalues: np.ndarray
    clusters: int  # chosen by choose_clusters
    labels: np.ndarray
    adjacency: np.ndarray  # the k-NN graph, to cluster it again with another number of clusters


def spray(
    relevance_maps: np.ndarray, size: int = 8, neighbours: int = 10, max_clusters: int = 6, seed: int = 0
) -> Spray:
    """Cluster heatmaps: features, k-NN graph, the number of clusters from its spectrum
    (`choose_clusters`), spectral clustering."""
    adjacency = affinity(spray_features(relevance_maps, size), neighbours)
    eigenvalues = laplacian_eigenvalues(adjacency, max_clusters + 1)
    clusters = choose_clusters(eigenvalues, max_clusters)
    return Spray(eigenvalues, clusters, spectral_clusters(adjacency, clusters, seed), adjacency)
