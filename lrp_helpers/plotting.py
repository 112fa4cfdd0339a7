"""Figures the notebooks share: image grids, training curves, confusion matrices, heatmaps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_class_grid(images, labels, class_names, per_class: int = 8):
    """One row per class with its first `per_class` images."""
    fig, axes = plt.subplots(len(class_names), per_class, figsize=(per_class * 0.9, len(class_names) * 0.95))
    for row, name in enumerate(class_names):
        members = np.flatnonzero(labels == row)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(members):
                ax.imshow(images[members[col]])
        axes[row, 0].text(-4, 16, name, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=0.15)
    return fig


def plot_history(history: dict, title: str = ""):
    """Loss and accuracy per epoch, training against validation (here: the test set)."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_ax.plot(epochs, history["loss"], "o-", label="training", ms=3)
    loss_ax.plot(epochs, history["val_loss"], "o-", label="test", ms=3)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    acc_ax.plot(epochs, history["accuracy"], "o-", label="training", ms=3)
    acc_ax.plot(epochs, history["val_accuracy"], "o-", label="test", ms=3)
    best = int(np.argmax(history["val_accuracy"]))
    acc_ax.annotate(
        f"best test {history['val_accuracy'][best]:.1%}\n(epoch {best + 1})",
        (epochs[best], history["val_accuracy"][best]),
        xytext=(0, -40),
        textcoords="offset points",
        ha="center",
        arrowprops={"arrowstyle": "->"},
    )
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(true_labels, predicted_labels, num_classes: int) -> np.ndarray:
    """counts[i, j] = how many images of class i were predicted as class j; always num_classes
    square, even if a class never occurs (scikit-learn's confusion matrix over all class indices)."""
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    return sklearn_confusion_matrix(true_labels, predicted_labels, labels=np.arange(num_classes))


def plot_confusion_matrix(counts: np.ndarray, class_names):
    """Row-normalised confusion matrix: each row shows where one true class ends up."""
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(
                j,
                i,
                f"{shares[i, j]:.2f}".lstrip("0") if shares[i, j] < 1 else "1",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix (share of each true class)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Heatmaps. Convention used throughout: red = positive relevance (speaks for the class),
# blue = negative (speaks against it), white = none. Each heatmap is the relevance summed over
# the colour channels and divided by its own largest absolute value, so the colour scale is
# symmetric about 0 and runs from -1 to 1 in every panel.
# ---------------------------------------------------------------------------------------------

HEATMAP_CMAP = "bwr"


def relevance_map(relevance: np.ndarray) -> np.ndarray:
    """Sum relevance over colour channels: (N, H, W, C) -> (N, H, W), or (H, W, C) -> (H, W)."""
    return np.asarray(relevance).sum(axis=-1)


def normalize(maps: np.ndarray) -> np.ndarray:
    """Scale each map by its own largest |value| into [-1, 1] (all-zero maps stay zero)."""
    maps = np.asarray(maps, dtype=np.float64)
    flat = maps.reshape(len(maps), -1)
    scale = np.abs(flat).max(axis=1)
    scale[scale == 0] = 1.0
    return (flat / scale[:, None]).reshape(maps.shape)


def show_heatmap(ax, relevance_2d: np.ndarray, title: str = ""):
    """One heatmap, already summed over channels, normalised here by its own max |value|."""
    shown = normalize(relevance_2d[None])[0]
    image = ax.imshow(shown, cmap=HEATMAP_CMAP, vmin=-1, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return image


def plot_explanations(images, relevances: dict, row_titles=None, column_width: float = 1.5, transpose: bool = False):
    """A grid of each image next to its heatmaps, one per entry of `relevances`
    (method name -> relevance array of shape (N, H, W, C)).

    Default: one row per image, the image first, then a column per method. `transpose=True`
    puts one image per column instead (the image on top, then a row per method).
    """
    import textwrap

    n, names = len(images), list(relevances)
    rows, cols = (len(names) + 1, n) if transpose else (n, len(names) + 1)
    fig, axes = plt.subplots(rows, cols, figsize=(column_width * cols, column_width * rows * 1.08), squeeze=False)
    grid = axes.T if transpose else axes  # grid[image, 0] is the image, grid[image, k] method k
    for i in range(n):
        grid[i, 0].imshow(images[i])
        grid[i, 0].axis("off")
        if row_titles is not None:
            grid[i, 0].set_title(textwrap.fill(row_titles[i], 18), fontsize=8)
        for k, name in enumerate(names, start=1):
            title = textwrap.fill(name, 16) if (i == 0 and not transpose) else ""
            last = show_heatmap(grid[i, k], relevance_map(relevances[name][i]), title)
            if transpose and i == 0:
                grid[i, k].text(-2, 16, textwrap.fill(name, 14), ha="right", va="center", fontsize=8)
    fig.subplots_adjust(wspace=0.06, hspace=0.25, left=0.12 if transpose else 0.02, right=0.9)
    colorbar_axes = fig.add_axes([0.92, 0.3, 0.012, 0.4])
    fig.colorbar(last, cax=colorbar_axes, label="relevance / max |relevance|")
    return fig


def plot_absorbed(tables: dict, title: str = "Where does the relevance go?"):
    """Bar chart: per layer, the share of the explained logit each rule lets the layer absorb.

    tables: rule name -> rows from `reference.Conservation.table()`.
    """
    names = list(tables)
    layers = [row["layer"] for row in tables[names[0]]]
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6, len(layers) * 0.9), 3.6))
    for i, name in enumerate(names):
        shares = [row["absorbed_share"] for row in tables[name]]
        ax.bar(np.arange(len(layers)) + i * width, shares, width, label=name)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(layers)) + width * (len(names) - 1) / 2, layers, rotation=30, ha="right")
    ax.set(ylabel="share of the logit absorbed", title=title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
