import os
from pathlib import Path

# Set before any notebook kernel or TensorFlow starts: notebooks run in quick mode under test,
# and figures/models from tests never overwrite the committed full-run ones.
os.environ["LRP_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2 on the current stack (lrp_helpers.compat)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# The same TF mode as the notebooks (lrp_helpers.setup_notebook): graph mode, for iNNvestigate.
tf.compat.v1.disable_eager_execution()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cifar10_dir():
    """The real CIFAR-10 folder named by $LRP_CIFAR10_DIR (CI sets it); skip where there is none."""
    folder = os.environ.get("LRP_CIFAR10_DIR")
    if not folder:
        pytest.skip("LRP_CIFAR10_DIR is not set: no real CIFAR-10 here")
    return Path(folder)
