"""The package's layering (docs/architecture.md): every module sits on a floor and imports only modules on
lower floors, function-local imports included. So there are no cycles, and the three engines stay
independent: they share the rule definitions (`rules`) and the vocabularies of targets and conditions (`targets`,
`conditions`), nothing else."""

import ast
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

PACKAGE = ROOT / "lrp_helpers"
FLOORS = {
    # 0: definitions and settings, importing nothing of the package
    "rules": 0,
    "targets": 0,
    "conditions": 0,
    "settings": 0,
    "compat": 0,
    "evaluation": 0,
    "plotting": 0,
    "sources": 0,
    "report": 0,
    # 1: the NumPy reference (an engine), the Keras layers we explain, data, the notebooks' set-up call
    "reference": 1,
    "scratch": 1,
    "keras_layers": 1,
    "graphs": 1,
    "data": 1,
    "session": 1,
    # 2: the TensorFlow engines (iNNvestigate's, ours); a Keras model read into the reference; models
    "analysis": 2,
    "engine": 2,
    "convert": 2,
    "verify": 2,
    "models": 2,
    "clever_hans": 2,
    "__init__": 2,
    # 3 and up: what uses several of the above, and the applications
    "canonize": 3,
    "beyond": 3,
    "methods": 3,
    "concepts": 3,
    "text": 4,
    "explorer": 4,
    "transformer": 5,
}
ENGINES = {"reference", "analysis", "engine", "scratch"}


def _files(module: str) -> list[tuple[Path, int]]:
    """The module's source files, each with its depth below the package (a subpackage's files: 1)."""
    folder = PACKAGE / module
    if folder.is_dir():
        return [(path, 1) for path in sorted(folder.glob("*.py"))]
    return [(PACKAGE / f"{module}.py", 0)]


def imports_of(module: str) -> set[str]:
    """The package modules `module` imports anywhere in its code (`from . import x`, `from .x import y`,
    `import lrp_helpers.x`, `from lrp_helpers import x`), at the top or inside functions; a subpackage's
    imports of its own modules do not count."""
    found = set()
    for path, depth in _files(module):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level and node.level != depth + 1:
                    continue  # within the subpackage
                if node.level and node.module:
                    found.add(node.module.split(".")[0])
                elif node.level or node.module == "lrp_helpers":
                    found |= {alias.name for alias in node.names}
                elif node.module and node.module.startswith("lrp_helpers."):
                    found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("lrp_helpers.")}
    return found & set(FLOORS)


def test_every_module_has_a_floor():
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert {path.stem for path in PACKAGE.glob("*.py")} | packages == set(FLOORS)


@pytest.mark.parametrize("module", sorted(FLOORS))
def test_imports_only_go_down(module):
    upward = {other for other in imports_of(module) if FLOORS[other] >= FLOORS[module]}
    assert not upward, f"lrp_helpers.{module} (floor {FLOORS[module]}) imports {sorted(upward)} on its floor or above"


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_no_engine_imports_another_and_the_reference_is_numpy_only(engine):
    assert not imports_of(engine) & (ENGINES - {engine})
    if engine == "reference":
        for path, _ in _files("reference"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            assert not {name for name in imported if name.split(".")[0] in ("tensorflow", "keras", "tf_keras")}, path


def test_the_check_finds_function_local_and_upward_imports(tmp_path, monkeypatch):
    """The test above can fail: a function-local upward import is found."""
    (tmp_path / "rules.py").write_text("def f():\n    from . import methods\n    from .targets import resolve\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    assert imports_of("rules") == {"methods", "targets"}


def test_the_reference_reads_every_layer_the_keras_engines_explain():
    """One list of supported Keras layers (`keras_layers.SUPPORTED`): `convert` reads each into the reference."""
    import tensorflow as tf

    from lrp_helpers import canonize, convert, keras_layers
    from lrp_helpers.models import mini_vgg

    layers = tf.keras.layers
    series = tf.keras.Sequential(
        [
            tf.keras.Input((16, 2)),
            layers.Conv1D(4, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(2),
            layers.GlobalMaxPooling1D(),
            layers.Dropout(0.1),
            layers.Dense(2),
            layers.Activation("softmax"),
        ]
    )
    images = mini_vgg()  # Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dense, ...
    read = set()
    for model in (series, images, canonize.canonize(images)):  # the canonized one has BiasMapConv2D layers
        model.predict(np.zeros((1, *model.input_shape[1:])), verbose=0)
        convert.from_keras(model)
        read |= {type(layer).__name__ for layer in model.layers}
    assert keras_layers.SUPPORTED - {"InputLayer"} <= read
