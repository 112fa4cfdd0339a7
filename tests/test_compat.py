"""Both stacks: the running one passes the checks, each unsupported combination gets its clear error, and
the committed model gives the same numbers on either stack."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT

from lrp_helpers import analysis, compat, data, models, verify
from lrp_helpers import reference as ref

REFERENCE = ROOT / "tests" / "cross_stack_reference.npz"
# LRP variants and the gradient, as in the measurement across stacks.
METHODS = {
    "lrp.epsilon": {"epsilon": 0.1},
    "lrp.z": {},
    "lrp.alpha_1_beta_0": {},
    "lrp.sequential_preset_a": {"epsilon": 0.1},
    "gradient": {},
}
REFERENCE_IMAGES = 4
# Each stack computes in float32 with its own TensorFlow build (kernels, summation order), so results
# may differ in the last bits. Measured on the fast-recipe model (2026-11-27): the two stacks at equal
# thread counts differ by at most 3.0e-7 of the largest value. The thread count changes the summation
# order too: one thread against two moves iNNvestigate's sequential_preset_a by up to 1.3e-5 (the other
# methods 4.2e-7). So the numbers are always computed with one thread, the reference's setting.
TOLERANCE = 1e-5
# Another CPU changes the summation order as the thread count does: against the reference (written on a
# host without AVX-512), an AVX-512 host measured 2.1e-5 for sequential_preset_a on 2026-12-05, every
# other method but lrp.z within 1e-5. A real difference in what is computed (a rule, a surrogate, a
# layer) moves maps by 1e-2 or more.
METHOD_TOLERANCE = {"lrp.sequential_preset_a": 1e-4}
# LRP-0 (lrp.z) divides by unstabilised denominators. Float32 rounding alone can move its map on an image
# by `verify.lrp0_sensitivity` of the image's largest |relevance| (tests/test_lrp.py), so on another CPU
# (other kernels, other summation order) two correct float32 maps may differ by about twice that. Measured
# 2026-12-05: 4.8e-5 of the largest value between an AVX-512 host and the reference's host, on images whose
# sensitivity is 0.5-2.5e-4.
ROUNDING_ALLOWANCE = 2


def test_the_running_stack_is_supported():
    compat.check_stack()
    assert compat.keras_package() == compat.keras_in_use() == ("keras" if sys.version_info < (3, 12) else "tf_keras")
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
    images = data.load_cifar10(cifar10_dir, train_size=10, test_size=100).x_test[:REFERENCE_IMAGES]
    numbers = {"logits": analysis.Analyzer(model, "gradient").logits(images)}
    for method, params in METHODS.items():
        numbers[method] = analysis.analyze(model, images, method, target=0, **params)
    return numbers


ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _numbers_with_one_thread(cifar10_dir, path) -> dict[str, np.ndarray]:
    """`_numbers` in a fresh interpreter with one thread (TensorFlow reads the setting at start-up)."""
    env = {**os.environ, **ONE_THREAD, "LRP_CIFAR10_DIR": str(cifar10_dir)}
    subprocess.run([sys.executable, __file__, str(path)], env=env, check=True, cwd=ROOT, timeout=600)
    return dict(np.load(path))


@pytest.mark.slow
def test_committed_model_gives_the_same_numbers_on_every_stack(cifar10_dir, tmp_path):
    """The reference was computed on the classic stack with one thread (`python tests/test_compat.py`)."""
    reference = np.load(REFERENCE)
    numbers = _numbers_with_one_thread(cifar10_dir, tmp_path / "numbers.npz")
    assert set(reference.files) == set(numbers)
    for name, expected in reference.items():
        scale = np.abs(expected).max()
        assert scale > 0
        error = np.abs(numbers[name] - expected).reshape(len(expected), -1).max(axis=1)
        allowed = np.full(len(expected), METHOD_TOLERANCE.get(name, TOLERANCE) * scale)
        if name == "lrp.z":
            allowed += (
                ROUNDING_ALLOWANCE
                * _lrp0_rounding(cifar10_dir)
                * np.abs(expected).reshape(len(expected), -1).max(axis=1)
            )
        assert np.all(error <= allowed), (name, error / allowed)


def _lrp0_rounding(cifar10_dir) -> np.ndarray:
    """Per reference image, how far float32 rounding alone can move its LRP-0 map (relative to its largest value)."""
    model = models.load_model(models.model_path(quick=False))
    images = data.load_cifar10(cifar10_dir, train_size=10, test_size=100).x_test[:REFERENCE_IMAGES]
    return verify.lrp0_sensitivity(ref.from_keras(model), images, np.zeros(REFERENCE_IMAGES, int))


@pytest.mark.slow
def test_a_model_saved_on_this_stack_loads_on_the_other(tmp_path):
    """.h5 models go both ways: saved here, loaded by the other stack's venv (CI builds both first)."""
    other = ROOT / (".venv-current" if sys.version_info < (3, 12) else ".venv") / "bin" / "python"
    if not other.exists():
        pytest.skip(f"the other stack's venv {other.parents[1].name} is missing (make env STACK=...)")
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


if __name__ == "__main__":
    # python tests/test_compat.py [OUT]: this stack's numbers into OUT. Without OUT, rewrite the
    # reference: on the classic stack, with one thread.
    if len(sys.argv) > 1:
        tf.compat.v1.disable_eager_execution()
        np.savez_compressed(sys.argv[1], **_numbers(os.environ["LRP_CIFAR10_DIR"]))
    elif sys.version_info >= (3, 12):
        sys.exit("write the reference on the classic stack: .venv/bin/python tests/test_compat.py")
    else:
        _numbers_with_one_thread(os.environ["LRP_CIFAR10_DIR"], REFERENCE)
        print(f"wrote {REFERENCE}")


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
