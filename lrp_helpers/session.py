"""The one call at the top of every notebook, and `save_fig()`. What the call decides lives in
`lrp_helpers.settings`."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from .compat import check_stack
from .settings import (  # noqa: F401 -- project_root and Settings: notebooks reach them through here
    LECTURE_VARIABLE,
    QUICK_VARIABLE,
    Settings,
    decide,
    images_dir,
    project_root,
    set_seeds,
)


def setup_notebook(seed: int = 42) -> Settings:
    """Prepare a notebook: TF graph mode for iNNvestigate, seeds, quiet logs, plotting defaults.

    Every notebook calls this first. iNNvestigate 2.1.2 builds its analyzers as TF1-style graphs,
    so eager execution is switched off *before* any model is built or loaded; with it off, models
    train with the legacy Keras optimizers (`lrp_helpers.models.train` picks them).
    """
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    check_stack()
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(keras|tf_keras|innvestigate)\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    set_seeds(seed)
    _plot_defaults()
    settings = decide(seed)
    if settings.quick:
        print(f"Quick mode ({QUICK_VARIABLE}=1): fewer epochs and images; numbers differ from a full run.")
    elif settings.lecture:
        print(f"Lecture mode ({LECTURE_VARIABLE}=1): committed models, fewer images; numbers differ from a full run.")
    return settings


def _plot_defaults() -> None:
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "image.interpolation": "nearest",
            "axes.grid": False,
            "font.size": 10,
        }
    )


def save_fig(name: str, fig=None, settings: Settings | None = None) -> Path:
    """Save the current (or given) matplotlib figure as images/<name>.png and return the path
    (images/quick/ in quick mode; `settings` default: what setup_notebook() decided)."""
    import matplotlib.pyplot as plt

    fig = fig if fig is not None else plt.gcf()
    path = images_dir(settings) / f"{name}.png"
    fig.savefig(path)
    return path
