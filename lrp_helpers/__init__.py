"""Helpers shared by the LRP teaching notebooks.

Where things live:
    data      -- CIFAR-10 loading, verification and subsets
    models    -- the miniVGG network, its training recipe, saving and loading
    session   -- the one setup call at the top of each notebook, quick mode, save_fig()
"""
import os

# TensorFlow reads this once, at import: keep its C++ start-up chatter out of the notebooks.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .session import Settings, project_root, save_fig, setup_notebook  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Settings", "project_root", "save_fig", "setup_notebook"]
