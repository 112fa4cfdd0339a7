import os
from pathlib import Path

# Set before any notebook kernel or TensorFlow starts: notebooks run in quick mode under test,
# and figures/models from tests never overwrite the committed full-run ones.
os.environ["LRP_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2 on the current stack (lrp_helpers.compat)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from skip_policy import pytest_runtest_makereport  # noqa: E402,F401 -- the hook: skips fail unless allowed

# The same TF mode as the notebooks (lrp_helpers.setup_notebook): graph mode, for iNNvestigate.
tf.compat.v1.disable_eager_execution()

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cifar10_dir():
    """The real CIFAR-10 folder, found as the notebooks find it (`data.load_cifar10`: $LRP_CIFAR10_DIR,
    then the Keras cache, then a download). If none works, the tests that need it fail with the
    loader's error, which says how to fix it."""
    from lrp_helpers import data

    return data.locate_cifar10()


@pytest.fixture(scope="module", autouse=True)
def fresh_graph():
    """Each test module starts on an empty TensorFlow graph. In graph mode every model a test builds
    or loads stays in the one default graph, and Keras's work per model (initialising variables)
    grows with the graph's size: without this, the last modules run several times slower."""
    tf.keras.backend.clear_session()


@pytest.fixture(scope="module")
def committed():
    """The committed full-run model (models/mini_vgg.h5), loaded into the module's graph."""
    from lrp_helpers import models

    path = models.model_path(quick=False)
    if not path.exists():
        pytest.fail(f"{path} is missing: the committed full-run model is part of the repository")
    return models.load_model(path)


@pytest.fixture(scope="module")
def canonized(committed):
    """The committed model with every BatchNorm merged into the next linear layer."""
    from lrp_helpers import canonize

    return canonize.canonize(committed)
