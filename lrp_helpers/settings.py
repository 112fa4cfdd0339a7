"""Every run-wide setting in one place: the environment variables the collection reads, the project's folders,
and what `setup_notebook()` decided (quick mode, lecture mode, seed, recipe, retraining).

Variables: LRP_QUICK (tests: fewer epochs and images), LRP_LECTURE (committed models, lecture sizes),
LRP_RETRAIN (1: train every model, 0: load the committed ones), LRP_RECIPE (notebook 02's training recipe),
LRP_IMAGES_DIR (where figures go), LRP_CIFAR10_DIR and LRP_SPAM_DIR (where the data lies).

This module imports nothing else of the package.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUICK_VARIABLE = "LRP_QUICK"
LECTURE_VARIABLE = "LRP_LECTURE"
RETRAIN_VARIABLE = "LRP_RETRAIN"
IMAGES_VARIABLE = "LRP_IMAGES_DIR"
RECIPE_VARIABLE = "LRP_RECIPE"
CIFAR10_DIR_VARIABLE = "LRP_CIFAR10_DIR"
SPAM_DIR_VARIABLE = "LRP_SPAM_DIR"
# The training recipes notebook 02 can use (lrp_helpers.models.RECIPES defines them).
RECIPE_NAMES = ("original", "fast")
_YES, _NO = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """What `setup_notebook()` decided. `quick` runs shrink epochs and image counts for tests;
    `lecture` runs ($LRP_LECTURE=1) load every committed model and use fewer images where a notebook
    names a lecture size, so each runs in front of a class in about a minute; `recipe` is the
    training recipe notebook 02 uses ("fast" unless $LRP_RECIPE says "original"); `retrain` is
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


def recipe_choice() -> str:
    """The recipe named by $LRP_RECIPE ("fast" when unset); a clear error for any other name."""
    name = os.environ.get(RECIPE_VARIABLE, "").strip().lower() or "fast"
    if name not in RECIPE_NAMES:
        raise ValueError(
            f"{RECIPE_VARIABLE}={name!r} is not a recipe; use one of {', '.join(RECIPE_NAMES)} "
            f"(or unset it for the fast recipe)"
            + ("; the recipe once called 'seed' is 'original' now" if name == "seed" else "")
        )
    return name


def current_settings() -> Settings:
    """The Settings the notebook's setup_notebook() call decided; a clear error before that call."""
    if _decided is None:
        raise RuntimeError(
            "quick mode is not decided yet: call lrp_helpers.setup_notebook() first (or pass settings=... explicitly)"
        )
    return _decided


_decided: Settings | None = None  # what the last setup_notebook() call decided


def decide(seed: int) -> Settings:
    """The settings of this run, from the environment; `current_settings()` returns them from now on."""
    global _decided
    _decided = Settings(
        quick=quick_mode(),
        seed=seed,
        recipe=recipe_choice(),
        retrain=retrain_choice(),
        lecture=lecture_mode() and not quick_mode(),  # quick mode (tests) wins
    )
    return _decided


def set_seeds(seed: int) -> None:
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)


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
