"""Both stacks: the running one passes the checks, each unsupported combination gets its clear error, and
the committed model gives the same numbers on either stack."""

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT

from lrp_helpers import analysis, compat, data, models

# LRP variants and the gradient, as in the measurement across stacks.
METHODS = {
    "lrp.epsilon": {"epsilon": 0.1},
    "lrp.z": {},
    "lrp.alpha_1_beta_0": {},
    "lrp.sequential_preset_a": {"epsilon": 0.1},
    "gradient": {},
}
COMPARED_IMAGES = 4
# Each stack computes in float32 with its own TensorFlow build (kernels, summation order), so results
# may differ in the last bits. Measured on the fast-recipe model: the two stacks on one machine at equal
# thread counts differ by at most 3.0e-7 of the largest value (2026-11-27, and again on another host on
# 2026-12-05). The thread count and the CPU change the summation order too: one thread against two moves
# iNNvestigate's sequential_preset_a by up to 1.3e-5, another CPU (with AVX-512) LRP-0 by 7.7e-5. So both
# stacks compute here, on the same machine, with one thread each.
TOLERANCE = 1e-5


def test_the_running_stack_is_supported():
    compat.check_stack()
    assert compat.keras_package() == compat.keras_in_use() == ("keras" if _classic() else "tf_keras")
    assert hasattr(compat.engine_module("base_layer_utils"), "_UNSAFE_GRAPH_OP_LAYER_CREATION")


def test_keras3_without_tf_keras_is_refused(monkeypatch):
    monkeypatch.setattr(tf, "__version__", "2.20.0")
    monkeypatch.setitem(sys.modules, "tf_keras", None)  # "not installed"
    with pytest.raises(compat.UnsupportedStackError, match=r"pip install 'tf-keras==2\.20\.\*'"):
        compat.check_stack()


def test_mismatched_tf_keras_is_refused(monkeypatch):
    monkeypatch.setattr(tf, "__version__", "2.21.0")
    monkeypatch.setitem(sys.modules, "tf_keras", types.SimpleNamespace(__version__="2.20.1"))
    with pytest.raises(compat.UnsupportedStackError, match=r"does not match TensorFlow 2\.21\.0"):
        compat.check_stack()


def test_keras3_when_the_variable_was_set_too_late_is_refused(monkeypatch):
    monkeypatch.setattr(tf, "__version__", "2.20.0")
    monkeypatch.setitem(sys.modules, "tf_keras", types.SimpleNamespace(__version__="2.20.0"))
    monkeypatch.setattr(compat, "keras_in_use", lambda: "keras")  # what tf.keras is without the variable
    with pytest.raises(compat.UnsupportedStackError, match="TF_USE_LEGACY_KERAS=1 must be set before"):
        compat.check_stack()


def test_eager_mode_is_refused():
    """In a fresh interpreter, where eager execution is still on (conftest switches it off here)."""
    code = (
        "import lrp_helpers.compat as c\ntry:\n    c.check_stack()\nexcept c.UnsupportedStackError as e:\n    print(e)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "eager execution is on" in result.stdout and "setup_notebook()" in result.stdout, result.stderr


def _numbers(cifar10_dir) -> dict[str, np.ndarray]:
    """Logits and relevance maps of the committed model on the first test images."""
    model = models.load_model(models.model_path(quick=False))
    images = data.load_cifar10(cifar10_dir, train_size=10, test_size=100).x_test[:COMPARED_IMAGES]
    numbers = {"logits": analysis.Analyzer(model, "gradient").logits(images)}
    for method, params in METHODS.items():
        numbers[method] = analysis.analyze(model, images, method, target=0, native=True, **params)
    return numbers


ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _classic() -> bool:
    """Whether this is the classic stack (TensorFlow 2.14) rather than the current one."""
    return tf.__version__.startswith("2.14.")


def _other_stack_python() -> Path:
    """The other stack's interpreter (CI builds both venvs first; on a learner's machine the classic one
    may be missing, and this test is skipped: tests/skip_policy.py allows that, except in CI)."""
    stack, venv = ("current", ".venv") if _classic() else ("classic", ".venv-classic")
    other = ROOT / venv / "bin" / "python"
    if not other.exists():
        pytest.skip(f"The other stack's venv is missing: {venv} (make env STACK={stack} builds it)")
    return other


def _numbers_with_one_thread(python, cifar10_dir, path) -> dict[str, np.ndarray]:
    """`_numbers` computed by `python` in a fresh interpreter with one thread (read at start-up)."""
    env = {**os.environ, **ONE_THREAD, "TF_USE_LEGACY_KERAS": "1", "LRP_CIFAR10_DIR": str(cifar10_dir)}
    subprocess.run([str(python), __file__, str(path)], env=env, check=True, cwd=ROOT, timeout=600)
    return dict(np.load(path))


@pytest.mark.slow
def test_committed_model_gives_the_same_numbers_on_every_stack(cifar10_dir, tmp_path):
    """This stack and the other, on this machine, one thread each."""
    ours = _numbers_with_one_thread(sys.executable, cifar10_dir, tmp_path / "ours.npz")
    theirs = _numbers_with_one_thread(_other_stack_python(), cifar10_dir, tmp_path / "theirs.npz")
    assert set(ours) == set(theirs) == {"logits", *METHODS}
    for name, expected in ours.items():
        scale = np.abs(expected).max()
        assert scale > 0
        assert np.abs(theirs[name] - expected).max() <= TOLERANCE * scale, name


@pytest.mark.slow
def test_a_model_saved_on_this_stack_loads_on_the_other(tmp_path):
    """.h5 models go both ways: saved here, loaded by the other stack's venv (CI builds both first)."""
    other = _other_stack_python()
    model = models.load_model(models.model_path(quick=False))
    path = models.save_model(model, tmp_path / "model.h5")
    images = np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)
    code = (
        "import sys, numpy as np; from lrp_helpers import models; "
        "np.save(sys.argv[2], models.load_model(sys.argv[1]).predict(np.load(sys.argv[3]), verbose=0))"
    )
    subprocess.run(
        [str(other), "-c", code, str(path), str(tmp_path / "theirs.npy"), str(tmp_path / "images.npy")],
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    ours = model.predict(images, verbose=0)
    assert np.abs(np.load(tmp_path / "theirs.npy") - ours).max() <= TOLERANCE * np.abs(ours).max()


if __name__ == "__main__":  # python tests/test_compat.py OUT: this stack's numbers into OUT
    tf.compat.v1.disable_eager_execution()
    np.savez_compressed(sys.argv[1], **_numbers(os.environ["LRP_CIFAR10_DIR"]))


def test_the_innvestigate_internals_we_use_are_there():
    compat.check_internals()


def test_a_missing_internal_is_named(monkeypatch):
    import innvestigate.backend.graph as igraph

    monkeypatch.delattr(igraph, "apply_mapping_to_fused_bn_layer")
    with pytest.raises(
        compat.UnsupportedStackError,
        match=r"innvestigate\.backend\.graph\.apply_mapping_to_fused_bn"
        r"_layer\).*innvestigate==2\.1\.2",
    ):
        compat.check_internals()


def test_a_missing_instance_internal_is_named():
    with pytest.raises(compat.UnsupportedStackError, match="no '_debug_tensors_indices'"):
        compat.kept_tensors(types.SimpleNamespace(), [])
