"""The one call at the top of every notebook, quick mode, and `save_fig()`."""

from __future__ import annotations

import logging
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUICK_VARIABLE = "LRP_QUICK"
LECTURE_VARIABLE = "LRP_LECTURE"
RETRAIN_VARIABLE = "LRP_RETRAIN"
IMAGES_VARIABLE = "LRP_IMAGES_DIR"
_YES, _NO = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """What `setup_notebook()` decided. `quick` runs shrink epochs and image counts for tests;
    `lecture` runs ($LRP_LECTURE=1) load every committed model and use fewer images where a notebook
    names a lecture size, so each runs in front of a class in about a minute; `recipe` is the
    training recipe notebook 02 uses ("fast" unless $LRP_RECIPE says "seed"); `retrain` is
    $LRP_RETRAIN (None when unset, see `train`)."""

    quick: bool
    seed: int
    recipe: str = "fast"
    retrain: bool | None = None
    lecture: bool = False

    def pick(self, full, quick, lecture=None):
        """The full-run value, the quick-mode one, or in a lecture the `lecture` one (the full one if
        not given): `images = settings.pick(full=256, quick=20, lecture=32)`."""
        if self.quick:
            return quick
        return full if lecture is None or not self.lecture else lecture

    def train(self, default: bool) -> bool:
        """Whether a notebook that asks (02, 06, 09) trains its models or loads the committed ones:
        LRP_RETRAIN=1 trains (`make all` sets it, to reproduce everything), LRP_RETRAIN=0 loads, and
        so does a lecture unless LRP_RETRAIN=1; otherwise the notebook's `default`."""
        if self.retrain is not None:
            return self.retrain
        return False if self.lecture else default


def retrain_choice() -> bool | None:
    """$LRP_RETRAIN as True (1/true/yes/on), False (0/false/no/off) or None (unset); a clear error else."""
    value = os.environ.get(RETRAIN_VARIABLE, "").strip().lower()
    if value and value not in _YES | _NO:
        raise ValueError(f"{RETRAIN_VARIABLE}={value!r}: use 1 to train every model, 0 to load the committed ones")
    return None if not value else value in _YES


def quick_mode() -> bool:
    """True when the environment variable LRP_QUICK is set to 1/true/yes (tests set it)."""
    return os.environ.get(QUICK_VARIABLE, "").strip().lower() in _YES


def lecture_mode() -> bool:
    """True when the environment variable LRP_LECTURE is set to 1/true/yes."""
    return os.environ.get(LECTURE_VARIABLE, "").strip().lower() in _YES


_decided: Settings | None = None  # what the last setup_notebook() call decided


def current_settings() -> Settings:
    """The Settings the notebook's setup_notebook() call decided; a clear error before that call."""
    if _decided is None:
        raise RuntimeError(
            "quick mode is not decided yet: call lrp_helpers.setup_notebook() first (or pass settings=... explicitly)"
        )
    return _decided


def setup_notebook(seed: int = 42) -> Settings:
    """Prepare a notebook: TF graph mode for iNNvestigate, seeds, quiet logs, plotting defaults.

    Every notebook calls this first. iNNvestigate 2.1.2 builds its analyzers as TF1-style graphs,
    so eager execution is switched off *before* any model is built or loaded; with it off, models
    train with the legacy Keras optimizers (`lrp_helpers.models.train` picks them).
    """
    global _decided
    import tensorflow as tf

    from .compat import check_stack

    tf.compat.v1.disable_eager_execution()
    check_stack()
    tf.get_logger().setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(keras|tf_keras|innvestigate)\..*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    set_seeds(seed)
    _plot_defaults()
    from .models import recipe_choice  # the recipes live in models

    settings = _decided = Settings(
        quick=quick_mode(),
        seed=seed,
        recipe=recipe_choice(),
        retrain=retrain_choice(),
        lecture=lecture_mode() and not quick_mode(),  # quick mode (tests) wins
    )
    if settings.quick:
        print(f"Quick mode ({QUICK_VARIABLE}=1): fewer epochs and images; numbers differ from a full run.")
    elif settings.lecture:
        print(f"Lecture mode ({LECTURE_VARIABLE}=1): committed models, fewer images; numbers differ from a full run.")
    return settings


def set_seeds(seed: int) -> None:
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


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


def project_root() -> Path:
    """The checkout's top folder (the one holding pyproject.toml), found from the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "lrp_helpers").is_dir():
            return folder
    return here


def images_dir(settings: Settings | None = None) -> Path:
    """Where figures go: $LRP_IMAGES_DIR, else images/ (images/quick/ in quick mode, so tests never
    overwrite the committed full-run figures). `settings` default: what setup_notebook() decided."""
    if os.environ.get(IMAGES_VARIABLE):
        folder = Path(os.environ[IMAGES_VARIABLE])
    else:
        folder = project_root() / "images"
        if (settings or current_settings()).quick:
            folder = folder / "quick"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_fig(name: str, fig=None, settings: Settings | None = None) -> Path:
    """Save the current (or given) matplotlib figure as images/<name>.png and return the path
    (images/quick/ in quick mode; `settings` default: what setup_notebook() decided)."""
    import matplotlib.pyplot as plt

    fig = fig if fig is not None else plt.gcf()
    path = images_dir(settings) / f"{name}.png"
    fig.savefig(path)
    return path
