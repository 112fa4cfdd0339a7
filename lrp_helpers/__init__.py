"""Helpers shared by the LRP teaching notebooks.

Where things live:
    session     -- the one setup call at the top of each notebook, quick mode, save_fig()
    data        -- CIFAR-10 loading, verification and subsets
    models      -- the miniVGG network, its two training recipes, saving and loading
    analysis    -- iNNvestigate analyzers with a corrected BatchNorm surrogate
    canonize    -- merging BatchNorm into the next linear layer, so the rules' assumptions hold
    reference   -- an independent NumPy LRP: rules, composites, conservation
    verify      -- comparing iNNvestigate with the reference
    plotting    -- heatmaps, training curves, confusion matrices
    report      -- the compact tables of numbers that stand next to a lesson
    evaluation  -- region perturbation (AOPC) and model randomisation
    clever_hans -- a planted shortcut and SpRAy
    explorer    -- the interactive explorer
    beyond      -- tabular data and time series
    text        -- the SpamAssassin mail corpus, tokens, a text CNN, relevance per token
    compat      -- the supported TensorFlow/Keras stacks and what differs between them
"""

import os

# TensorFlow reads this once, at import: keep its C++ start-up chatter out of the notebooks.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# On TensorFlow >= 2.16 (the current stack), iNNvestigate needs Keras 2 from tf_keras, which TensorFlow
# picks only if this is set before it is imported (lrp_helpers.compat checks it). Classic TF ignores it.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from .session import Settings, project_root, save_fig, setup_notebook  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Settings", "project_root", "save_fig", "setup_notebook"]
