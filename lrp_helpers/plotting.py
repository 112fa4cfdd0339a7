"""Figures the notebooks share: image grids, training curves, confusion matrices, heatmaps."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_class_grid(images, labels, class_names, per_class: int = 8):
    """One row per class with its first `per_class` images."""
    fig, axes = plt.subplots(
        len(class_names), per_class, figsize=(per_class * 0.9, len(class_names) * 0.95)
    )
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
        xytext=(0, -40), textcoords="offset points", ha="center",
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
    """counts[i, j] = how many images of class i were predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(true_labels), np.asarray(predicted_labels)), 1)
    return counts


def plot_confusion_matrix(counts: np.ndarray, class_names):
    """Row-normalised confusion matrix: each row shows where one true class ends up."""
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{shares[i, j]:.2f}".lstrip("0") if shares[i, j] < 1 else "1",
                    ha="center", va="center", fontsize=7,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix (share of each true class)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig
