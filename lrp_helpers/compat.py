"""The one place that knows which TensorFlow/Keras stack runs, and what differs between them.

Two stacks are supported (docs/setup.md, "The software stacks"):

* current (the default): Python 3.11-3.13, TensorFlow >= 2.16 with Keras 2 from the `tf_keras` package
  of the same minor version, selected by ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported, numpy 2;
* classic: Python 3.11, TensorFlow 2.14 with its own Keras 2 (`keras` 2.14), numpy < 2.

iNNvestigate 2.1.2 builds TF1-style graphs with Keras 2 and runs on both. Its metadata
(`Requires-Python <3.12`, `tensorflow <2.15`, `numpy <2`) is stale: the current stack installs it
with ``pip install --no-deps --ignore-requires-python innvestigate==2.1.2``.

`check_stack()` turns every unsupported combination into one error that says what to install or
set; `engine_module()` finds the Keras engine internals `analysis` uses under either package.
"""

from __future__ import annotations

import contextlib
import importlib
from importlib import metadata

LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"
INNVESTIGATE_VERSION = "2.1.2"


class UnsupportedStackError(RuntimeError):
    """TensorFlow, Keras, iNNvestigate or the execution mode cannot run this collection."""


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def keras_package() -> str:
    """'keras' on the classic stack (TF <= 2.15), 'tf_keras' on the current one."""
    import tensorflow as tf

    return "tf_keras" if _minor(tf.__version__) >= (2, 16) else "keras"


def keras_in_use() -> str:
    """The package behind tf.keras: 'keras' (Keras 2.14 on the classic stack, Keras 3 on TF >= 2.16
    unless TF_USE_LEGACY_KERAS=1 was set in time) or 'tf_keras'."""
    import tensorflow as tf

    return tf.keras.layers.Layer.__module__.split(".")[0]


def check_stack(graph_mode: bool = True) -> None:
    """Raise `UnsupportedStackError` unless TensorFlow's Keras is Keras 2, iNNvestigate is the
    tested version and (with `graph_mode`) eager execution is off."""
    import tensorflow as tf

    tf_version = _minor(tf.__version__)
    if tf_version >= (2, 16):
        wanted = f"tf-keras=={tf_version[0]}.{tf_version[1]}.*"
        try:
            import tf_keras
        except ImportError:
            raise UnsupportedStackError(
                f"TensorFlow {tf.__version__} ships Keras 3, which iNNvestigate cannot use. Install Keras 2 "
                f"for it: pip install '{wanted}', then restart the kernel."
            ) from None
        if _minor(tf_keras.__version__) != tf_version:
            raise UnsupportedStackError(
                f"tf_keras {tf_keras.__version__} does not match TensorFlow {tf.__version__}: "
                f"pip install '{wanted}', then restart the kernel."
            )
        if keras_in_use() != "tf_keras":
            raise UnsupportedStackError(
                f"tf.keras is Keras 3, not Keras 2 from tf_keras: {LEGACY_KERAS_VARIABLE}=1 must be set "
                "before TensorFlow is imported. Import lrp_helpers before tensorflow (it sets the variable), "
                f"or set os.environ['{LEGACY_KERAS_VARIABLE}'] = '1' first; then restart the kernel."
            )
    elif tf_version != (2, 14):
        raise UnsupportedStackError(
            f"TensorFlow {tf.__version__} is not supported: use 2.16 or later with tf_keras (the current stack; "
            "tested: 2.20, 2.21) or 2.14 (the classic stack; see docs/setup.md)."
        )
    try:  # the distribution's version: innvestigate.__version__ says 2.0.1 in release 2.1.2
        innvestigate_version = metadata.version("innvestigate")
    except metadata.PackageNotFoundError:
        innvestigate_version = "no version"
    if innvestigate_version != INNVESTIGATE_VERSION:
        raise UnsupportedStackError(
            f"iNNvestigate {innvestigate_version} is installed; lrp_helpers corrects and verifies "
            f"{INNVESTIGATE_VERSION} only: pip install --no-deps --ignore-requires-python "
            f"innvestigate=={INNVESTIGATE_VERSION}"
        )
    if graph_mode and tf.executing_eagerly():
        raise UnsupportedStackError(
            "iNNvestigate needs graph mode, but eager execution is on: call lrp_helpers.setup_notebook() "
            "(or tf.compat.v1.disable_eager_execution()) before any model is built or loaded."
        )
    check_internals()


def engine_module(name: str):
    """A module of the Keras 2 engine, e.g. 'base_layer_utils', from whichever package runs."""
    module_name = f"{keras_package()}.src.engine.{name}"
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise UnsupportedStackError(
            f"cannot import {module_name} ({error}); this Keras version is not supported (see docs/setup.md)"
        ) from error


# ---------------------------------------------------------------------------------------------
# The iNNvestigate and Keras internals lrp_helpers relies on, all in one place. They are private,
# so each is named here, checked against the installed version (`check_internals`), and reached
# only through the functions below.
# ---------------------------------------------------------------------------------------------

# (module, attribute) pairs that must exist; instance attributes are checked where they are read.
INTERNALS = (
    ("innvestigate.backend.graph", "apply_mapping_to_fused_bn_layer"),  # replaced: the corrected BatchNorm
    ("innvestigate.backend.graph", "ReverseMappingBase"),  # base of our LRP-γ rule
    ("innvestigate.backend.graph", "copy_layer_wo_activation"),
    ("innvestigate.analyzer.network_base", "AnalyzerNetworkBase._get_neuron_selection_array"),
)


def _resolve(module_name: str, path: str):
    value = importlib.import_module(module_name)
    for part in path.split("."):
        value = getattr(value, part)
    return value


def check_internals() -> None:
    """Raise `UnsupportedStackError` naming every private iNNvestigate/Keras attribute that is missing."""
    missing = []
    for module_name, path in INTERNALS:
        try:
            _resolve(module_name, path)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{path}")
    if not hasattr(engine_module("base_layer_utils"), "_UNSAFE_GRAPH_OP_LAYER_CREATION"):
        missing.append(f"{keras_package()}.src.engine.base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION")
    if missing:
        raise UnsupportedStackError(
            f"this iNNvestigate/Keras lacks internals lrp_helpers corrects or uses ({', '.join(missing)}); "
            f"install the tested versions: pip install --no-deps --ignore-requires-python "
            f"innvestigate=={INNVESTIGATE_VERSION} (see docs/setup.md)"
        )


def _instance_attribute(analyzer, name: str):
    try:
        return getattr(analyzer, name)
    except AttributeError:
        raise UnsupportedStackError(
            f"iNNvestigate analyzers have no {name!r} in this version; lrp_helpers needs "
            f"innvestigate=={INNVESTIGATE_VERSION}"
        ) from None


def run_analyzer_model(analyzer, images, targets):
    """Every output of an iNNvestigate analyzer's Keras model for one batch and one class per image:
    the analysis first, then any tensors kept with ``reverse_keep_tensors=True``."""
    selection = analyzer._get_neuron_selection_array(targets, len(images))
    return _instance_attribute(analyzer, "_analyzer_model").predict_on_batch([images, selection])


def kept_tensors(analyzer, outputs) -> list:
    """The relevance tensors an analyzer kept (``reverse_keep_tensors=True``), from the top down:
    the selected logit, the logits layer's output, ..., the input."""
    start, stop = _instance_attribute(analyzer, "_debug_tensors_indices")["keep"]
    offset = _instance_attribute(analyzer, "_n_data_output")
    return list(outputs[offset + start : offset + stop])


@contextlib.contextmanager
def fused_batchnorm_mapping(mapping):
    """Use `mapping` instead of iNNvestigate's ``apply_mapping_to_fused_bn_layer`` while analyzers are built."""
    import innvestigate.backend.graph as igraph

    stock = igraph.apply_mapping_to_fused_bn_layer
    igraph.apply_mapping_to_fused_bn_layer = mapping
    try:
        yield
    finally:
        igraph.apply_mapping_to_fused_bn_layer = stock


@contextlib.contextmanager
def symbolic_layer_constants():
    """Let Keras keep tensors computed from weights (w⁺, w², ...) as graph tensors in layers instead of
    evaluating each into a constant with its own session call (Keras' ``_UNSAFE_GRAPH_OP_LAYER_CREATION``)."""
    base_layer_utils = engine_module("base_layer_utils")
    before = base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION
    base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION = True
    try:
        yield
    finally:
        base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION = before
