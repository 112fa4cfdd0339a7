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
    """Row-normalised confusion matrix: each row shows where one true class ends up, in per cent,
    in digits large enough for a projector."""
    percent = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    image = ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(
                j,
                i,
                f"{percent[i, j]:.0f}",
                ha="center",
                va="center",
                fontsize=12,
                color="white" if percent[i, j] > 50 else "black",
            )
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=12)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=12)
    ax.set_xlabel("predicted class", fontsize=12)
    ax.set_ylabel("true class", fontsize=12)
    ax.set_title("Confusion matrix (% of each true class)", fontsize=13)
    fig.colorbar(image, ax=ax, fraction=0.046, label="% of the true class")
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
    image = show_relevance(ax, normalize(relevance_2d[None])[0], limit=1.0)
    ax.set_title(title, fontsize=9)
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


def show_relevance(ax, relevance_2d: np.ndarray, limit: float, image=None):
    """One heatmap (summed over channels) on the colour scale −limit (blue) … +limit (red), in the
    relevance's own units, so that maps drawn with the same `limit` compare. With an `image`, the map is
    laid over the image in grey: each pixel's colour is as opaque as its |relevance| is large.
    Returns what `fig.colorbar` needs."""
    import matplotlib as mpl

    norm = mpl.colors.Normalize(-limit, limit)
    colours = mpl.colormaps[HEATMAP_CMAP]
    if image is None:
        shown = ax.imshow(relevance_2d, cmap=colours, norm=norm)
    else:
        ax.imshow(np.asarray(image).mean(axis=-1), cmap="gray", vmin=0, vmax=1)
        layer = colours(norm(relevance_2d))
        layer[..., 3] = np.clip(np.abs(relevance_2d) / limit, 0, 1)
        ax.imshow(layer)
        shown = mpl.cm.ScalarMappable(norm, colours)
    ax.axis("off")
    return shown


def plot_heatmap_rows(image, rows: dict, width: float = 2.6):
    """The image, then one row of heatmaps per entry of `rows` ({row label: {column title: relevance
    (H, W, C)}}); each row on one colour scale (its largest |relevance|), with its own colour bar."""
    columns = max(len(maps) for maps in rows.values())
    fig, axes = plt.subplots(
        len(rows), columns + 1, figsize=(width * (columns + 1.4), width * len(rows)), squeeze=False
    )
    for axes_row, (label, maps) in zip(axes, rows.items()):
        axes_row[0].imshow(image)
        axes_row[0].set_title(label, fontsize=11)
        axes_row[0].axis("off")
        summed = {title: relevance_map(relevance) for title, relevance in maps.items()}
        limit = max(float(np.abs(m).max()) for m in summed.values()) or 1.0
        for ax, (title, relevance_2d) in zip(axes_row[1:], summed.items()):
            shown = show_relevance(ax, relevance_2d, limit)
            ax.set_title(title, fontsize=11)
        fig.colorbar(shown, ax=list(axes_row[1:]), fraction=0.03, pad=0.02, label="relevance")
    return fig


def colour_line(ax, values: np.ndarray, colour_by: np.ndarray, limit: float, linewidth: float = 2.5):
    """`values` as one unbroken line, outlined in grey, whose colour at each step is `colour_by` on the
    heatmap scale −limit … +limit. Returns what `fig.colorbar` needs."""
    import matplotlib as mpl
    from matplotlib.collections import LineCollection

    steps = np.arange(len(values))
    points = np.column_stack([steps, values])
    middles = (points[:-1] + points[1:]) / 2  # each step's colour runs half-way to its neighbours
    starts = np.vstack([points[:1], middles])
    ends = np.vstack([middles, points[-1:]])
    segments = np.stack([np.stack([starts, points], axis=1), np.stack([points, ends], axis=1)], axis=1)
    lines = LineCollection(
        segments.reshape(-1, 2, 2),
        cmap=HEATMAP_CMAP,
        norm=mpl.colors.Normalize(-limit, limit),
        linewidths=linewidth,
        capstyle="round",
    )
    lines.set_array(np.repeat(colour_by, 2))
    ax.plot(steps, values, color="0.6", lw=linewidth + 1.2, zorder=1)  # an outline: white steps stay visible
    lines.set_zorder(2)
    ax.add_collection(lines)
    ax.set_xlim(-1, len(values))
    ax.set_ylim(values.min() - 0.3, values.max() + 0.3)
    return lines


def plot_summed_explanations(images, maps: dict, **options):
    """`plot_explanations` for maps already summed over the colour channels ({name: (N, H, W)})."""
    return plot_explanations(images, {name: np.asarray(m)[..., None] for name, m in maps.items()}, **options)


def plot_paired_boxes(
    values: dict, groups: dict, reference=None, reference_label: str = "", xlabel: str = "", title: str = ""
):
    """Horizontal box plots: one row per item, one box per group in it. `values[group, item]` is a 1-D
    array, `groups` maps each group to its colour. Medians are drawn as thick black lines, outliers
    left out, and `reference` as a dashed vertical line."""
    items = list(dict.fromkeys(item for _, item in values))
    fig, ax = plt.subplots(figsize=(10, 0.8 * len(items) + 1.5))
    positions = np.arange(len(items))[::-1]
    width = 0.8 / len(groups)
    for g, (group, colour) in enumerate(groups.items()):
        offset = ((len(groups) - 1) / 2 - g) * width  # the first group on top
        ax.boxplot(
            [values[group, item] for item in items],
            positions=positions + offset,
            widths=0.85 * width,
            vert=False,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": colour},
            medianprops={"color": "black", "linewidth": 2.5},
        )
        ax.plot([], [], color=colour, lw=8, label=group)
    if reference is not None:
        ax.axvline(reference, color="black", ls="--", lw=1, label=reference_label)
    ax.set_yticks(positions, items)
    ax.tick_params(labelsize=12)
    ax.set_xlabel(xlabel, fontsize=12)
    ax.set_title(title, fontsize=13)
    ax.legend(loc="lower right", fontsize=12)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_spray(eigenvalues, cluster_maps, titles, zero: float = 1e-8):
    """SpRAy at a glance: the graph Laplacian's smallest eigenvalues (the zeros, one per connected
    component, marked), then each cluster's mean heatmap (H, W), with one colour bar."""
    eigenvalues = np.asarray(eigenvalues)
    fig = plt.figure(figsize=(4.2 + 2.6 * len(cluster_maps), 3.6))
    grid = fig.add_gridspec(1, len(cluster_maps) + 2, width_ratios=[1.6] + [1] * len(cluster_maps) + [0.07])
    ax = fig.add_subplot(grid[0])
    index = np.arange(1, len(eigenvalues) + 1)
    zeros = eigenvalues < zero
    ax.plot(index, eigenvalues, color="lightgrey", zorder=0)
    ax.plot(index[~zeros], eigenvalues[~zeros], "o", color="C0", label="above 0")
    ax.plot(index[zeros], eigenvalues[zeros], "o", color="C3", ms=9, label=f"0 ({zeros.sum()}×): components")
    ax.set(xlabel="k", ylabel="k-th smallest eigenvalue", title="Laplacian spectrum", xticks=index)
    ax.legend(loc="upper left")
    for k, (relevance, title) in enumerate(zip(cluster_maps, titles), start=1):
        panel = fig.add_subplot(grid[k])
        image = show_heatmap(panel, relevance)
        panel.set_title(title, fontsize=11)
    fig.colorbar(image, cax=fig.add_subplot(grid[-1]), label="relevance / max |relevance|")
    fig.tight_layout()
    return fig


def plot_bar_grid(panels: dict, colours: dict | None = None, xlabel: str = ""):
    """Horizontal bars of per-image scores, mean ± standard error, one panel per (row, column) key of
    `panels` ({(row, column): {bar: per-image values}}), every panel on one x scale (notebook 05's AOPCs)."""
    rows = list(dict.fromkeys(row for row, _ in panels))
    columns = list(dict.fromkeys(column for _, column in panels))
    bars = max(len(values) for values in panels.values())
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(5.2 * len(columns), (0.32 * bars + 0.9) * len(rows)),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for (row, column), values in panels.items():
        ax = axes[rows.index(row), columns.index(column)]
        names = list(values)
        means = [np.mean(values[name]) for name in names]
        errors = [np.std(values[name], ddof=1) / np.sqrt(len(values[name])) for name in names]
        ax.barh(names, means, xerr=errors, color=[(colours or {}).get(name, "tab:blue") for name in names])
        ax.axvline(0, color="black", lw=0.8)
        ax.grid(axis="x", alpha=0.3)
    for ax, column in zip(axes[0], columns):
        ax.set_title(column, fontsize=11)
    for ax, row in zip(axes[:, 0], rows):
        ax.set_ylabel(row, fontsize=12, fontweight="bold")
    axes[0, 0].invert_yaxis()
    fig.supxlabel(xlabel)
    return fig


def plot_concept_rows(rows: dict, image=None, heatmaps: dict | None = None, width: float = 1.1):
    """One row per concept ({label: [reference crops]}), the crops side by side; with `heatmaps` ({label:
    conditional heatmap (H, W)}) each row starts with its heatmap, over `image` if given, on its own scale."""
    lead = int(heatmaps is not None)
    columns = lead + max(len(crops) for crops in rows.values())
    fig, axes = plt.subplots(len(rows), columns, figsize=(width * (columns + 1.2), width * len(rows)), squeeze=False)
    for axes_row, (label, crops) in zip(axes, rows.items()):
        for ax in axes_row:
            ax.axis("off")
        if lead:
            heatmap = heatmaps[label]
            show_relevance(axes_row[0], heatmap, float(np.abs(heatmap).max()) or 1.0, image)
        for ax, crop in zip(axes_row[lead:], crops):
            ax.imshow(crop)
        axes_row[0].text(-0.1, 0.5, label, transform=axes_row[0].transAxes, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.2, wspace=0.08, hspace=0.12)
    return fig
