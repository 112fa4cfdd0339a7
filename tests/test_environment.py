"""pyproject.toml, the lock files, environment.yml, README, Makefile, CI, Colab set-up and LICENSE agree."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402
import floors  # noqa: E402

STACK = "classic" if sys.version_info < (3, 12) else "current"


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(python: str) -> list[Requirement]:
    """pyproject's requirements (test extra included) that apply on Python `python`, e.g. "3.11"."""
    project = _project()
    requirements = [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]
    return [req for req in requirements if req.marker is None or req.marker.evaluate({"python_version": python})]


def _lock(stack: str) -> dict[str, str]:
    lines = (ROOT / "constraints" / f"{stack}.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    assert all(len(pin) == 2 for pin in pins), "a lock file pins every package with =="
    return {canonicalize_name(name): version for name, version in pins}


def test_environment_yml_is_the_classic_stack():
    wanted = {str(Requirement(str(req).split(";")[0])) for req in _requirements("3.11")}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    listed = {str(Requirement(req)) for req in pip_section if not req.startswith("-")}
    assert listed == wanted
    assert "python=3.11" in environment["dependencies"]
    assert "-e ." in pip_section and any(req.startswith("-c constraints/classic.txt") for req in pip_section)


@pytest.mark.parametrize("stack, python", [("classic", "3.11"), ("current", "3.13")])
def test_lock_file_pins_every_requirement_within_pyproject(stack, python):
    lock = _lock(stack)
    for requirement in _requirements(python):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"constraints/{stack}.txt does not pin {name}: run make lock STACK={stack}"
        assert requirement.specifier.contains(lock[name], prereleases=True), f"{name}=={lock[name]} vs {requirement}"


def test_current_lock_has_colabs_published_versions():
    lock = _lock("current")
    pins = re.search(r"^LOCK_PINS := (.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)[1].split()
    assert pins == ["tensorflow==2.20.*", "tf-keras==2.20.*", "numpy==2.1.*", "ipywidgets==7.7.*"]
    for pin in pins:
        name, version = pin.split("==")
        assert lock[canonicalize_name(name)].startswith(version.rstrip("*")), pin


def test_installed_versions_are_the_locked_ones():
    """`make env` installs from the stack's lock file (the floors venv from tools/floors.py's pins)."""
    if Path(sys.prefix).name == ".venv-floors":
        stack, lock = "floors", dict(line.split("==") for line in floors.lines() if not line.startswith("#"))
    else:
        stack, lock = STACK, _lock(STACK)
    installed = {name: metadata.version(name) for name in lock}
    wrong = {
        name: (installed[name], version)
        for name, version in lock.items()
        if installed[name] != version and not installed[name].startswith(version + ".")
    }
    assert not wrong, f"installed vs locked: {wrong}; run make env STACK={stack} again"


def test_floors_cover_every_requirement_and_matplotlib_has_tick_labels():
    names = {canonicalize_name(line.split("==")[0]) for line in floors.lines() if not line.startswith("#")}
    assert names == {canonicalize_name(req.name) for req in _requirements("3.11")}
    sources = [path.read_text(encoding="utf-8") for path in [*ROOT.glob("lrp_helpers/*.py"), *colab.NOTEBOOKS]]
    if any("tick_labels=" in text for text in sources):  # boxplot(tick_labels=...) is new in matplotlib 3.9
        matplotlib = next(req for req in _requirements("3.11") if req.name == "matplotlib")
        assert not matplotlib.specifier.contains("3.8.4"), "boxplot(tick_labels=...) needs matplotlib>=3.9"


def test_readme_commands_and_ci_run_every_stack_and_colab():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["make all", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert re.search(r"for stack in classic current floors\b", ci)  # every venv is built
    for stack in ("classic", "current", "floors"):
        assert f"make test STACK={stack}" in ci
    assert "make colab" in ci
    assert re.search(r"LRP_CIFAR10_DIR=.*shared/data/cifar-10-batches-py", ci)


def test_colab_badges_and_setup_are_up_to_date():
    assert colab.out_of_date() == [], "run: python tools/colab.py"
    for path in colab.NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert colab.colab_url(path.name) in "".join(cells[0]["source"])
        first_code = next(cell for cell in cells if cell["cell_type"] == "code")
        assert "".join(first_code["source"]).startswith(colab.setup_code())
        assert f"]({colab.colab_url(path.name)})" in (ROOT / "README.md").read_text()


def test_colab_setup_does_nothing_off_colab(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environment = dict(os.environ)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        exec(colab.setup_code(), {})
    assert printed.getvalue() == "" and Path.cwd() == tmp_path and dict(os.environ) == environment
    assert list(tmp_path.iterdir()) == []


def test_colab_setup_is_idempotent(tmp_path):
    path = colab.NOTEBOOKS[0]
    once = tmp_path / path.name
    once.write_text(colab.updated_notebook(path), encoding="utf-8")
    assert colab.updated_notebook(once) == once.read_text(encoding="utf-8")


def test_license_is_mit_as_pyproject_says():
    assert _project()["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_makefile_rejects_an_unknown_stack():
    result = subprocess.run(["make", "-n", "test", "STACK=newest"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "STACK must be classic, current or floors" in result.stderr
