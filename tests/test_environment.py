"""pyproject.toml, the lock files, environment.yml, README, Makefile, CI, Colab set-up and LICENSE agree."""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402
import floors  # noqa: E402
import lock  # noqa: E402

MAKE = shutil.which("make") or "make"  # the tests below run it with a PATH of their own
PYTHONS = ("3.11", "3.12", "3.13")  # pyproject's requires-python, each a Python the current stack's lock resolves for
STACK_PYTHONS = {"current": PYTHONS, "classic": ("3.11",)}


def _stack() -> str:
    """The stack this interpreter runs: classic has TensorFlow 2.14 (floors too, in its own venv)."""
    if Path(sys.prefix).name == ".venv-floors":
        return "floors"
    return "classic" if metadata.version("tensorflow").startswith("2.14.") else "current"


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(stack: str) -> list[Requirement]:
    """pyproject's requirements of a stack: the package's own, the stack's extra and the test extra."""
    project = _project()
    extras = project["optional-dependencies"]
    return [Requirement(text) for text in project["dependencies"] + extras[stack] + extras["test"]]


def _lock(stack: str, python: str) -> dict[str, str]:
    """The lock file's pins that apply on Python `python` (lines may carry a python_version marker)."""
    lock = {}
    for line in (ROOT / "constraints" / f"{stack}.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        assert len(requirement.specifier) == 1 and next(iter(requirement.specifier)).operator == "==", line
        if requirement.marker is None or requirement.marker.evaluate({"python_version": python}):
            name = canonicalize_name(requirement.name)
            assert name not in lock, f"constraints/{stack}.txt pins {name} twice for Python {python}"
            lock[name] = next(iter(requirement.specifier)).version
    return lock


def test_requires_python_is_the_pythons_the_current_stack_is_locked_for():
    specifier = SpecifierSet(_project()["requires-python"])
    assert [python for python in ("3.10", *PYTHONS, "3.14") if specifier.contains(python + ".0")] == list(PYTHONS)
    makefile = (ROOT / "Makefile").read_text()
    current = re.search(r"ifeq \(\$\(STACK\),current\)\nPYTHON_VERSIONS := (.*)", makefile)[1].split()
    assert sorted(current) == list(PYTHONS), "make finds, and make lock resolves on, every Python pyproject allows"
    header = (ROOT / "constraints" / "current.txt").read_text().splitlines()[0]
    assert all(python in header for python in PYTHONS), f"make lock resolved on every Python: {header}"


def test_environment_yml_is_the_classic_stack():
    wanted = {str(req) for req in _requirements("classic")}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    listed = {str(Requirement(req)) for req in pip_section if not req.startswith("-")}
    assert listed == wanted
    assert "python=3.11" in environment["dependencies"]
    assert "-e ." in pip_section and any(req.startswith("-c constraints/classic.txt") for req in pip_section)


@pytest.mark.parametrize(
    "stack, python", [(stack, python) for stack, pythons in STACK_PYTHONS.items() for python in pythons]
)
def test_lock_file_pins_every_requirement_within_pyproject(stack, python):
    lock = _lock(stack, python)
    for requirement in _requirements(stack):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"constraints/{stack}.txt does not pin {name} for Python {python}: run make lock"
        assert requirement.specifier.contains(lock[name], prereleases=True), f"{name}=={lock[name]} vs {requirement}"


def test_current_lock_has_colabs_published_versions():
    pins = re.search(r"^LOCK_PINS := (.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)[1].split()
    assert pins == ["tensorflow==2.20.*", "tf-keras==2.20.*", "numpy==2.1.*"]
    for python in PYTHONS:
        lock = _lock("current", python)
        for pin in pins:
            name, version = pin.split("==")
            assert lock[canonicalize_name(name)].startswith(version.rstrip("*")), (python, pin)


def test_the_colab_venv_keeps_colabs_ipywidgets_7():
    text = colab.colab_constraints(ROOT / "constraints" / "current.txt")
    widgets = re.findall(r"^(?:ipywidgets|widgetsnbextension|jupyterlab.widgets)==.*$", text, flags=re.MULTILINE)
    assert widgets == ["ipywidgets==7.7.*"], "Colab's ipywidgets, its front ends resolved to match"


def test_lock_lines_merge_pythons_only_where_they_differ():
    per_python = {
        "3.12": {"a": ("A", "1"), "b": ("b", "2")},
        "3.11": {"a": ("A", "1"), "b": ("b", "1"), "c": ("c", "3")},
    }
    assert lock.lock_lines(per_python, ["innvestigate==2.1.2"]) == [
        "A==1",
        'b==2 ; python_version == "3.12"',
        'b==1 ; python_version == "3.11"',
        'c==3 ; python_version == "3.11"',
        "innvestigate==2.1.2",
    ]


def test_installed_versions_are_the_locked_ones():
    """`make env` installs from the stack's lock file (the floors venv from tools/floors.py's pins)."""
    stack = _stack()
    if stack == "floors":
        locked = dict(line.split("==") for line in floors.lines() if not line.startswith("#"))
    else:
        locked = _lock(stack, f"{sys.version_info.major}.{sys.version_info.minor}")
    installed = {name: metadata.version(name) for name in locked}
    wrong = {
        name: (installed[name], version)
        for name, version in locked.items()
        if installed[name] != version and not installed[name].startswith(version + ".")
    }
    assert not wrong, f"installed vs locked: {wrong}; run make env STACK={stack} again"


def test_floors_cover_every_requirement_and_matplotlib_has_tick_labels():
    names = {canonicalize_name(line.split("==")[0]) for line in floors.lines() if not line.startswith("#")}
    assert names == {canonicalize_name(req.name) for req in _requirements("classic")}
    sources = [path.read_text(encoding="utf-8") for path in [*ROOT.glob("lrp_helpers/*.py"), *colab.NOTEBOOKS]]
    if any("tick_labels=" in text for text in sources):  # boxplot(tick_labels=...) is new in matplotlib 3.9
        matplotlib = next(req for req in _requirements("classic") if req.name == "matplotlib")
        assert not matplotlib.specifier.contains("3.8.4"), "boxplot(tick_labels=...) needs matplotlib>=3.9"


def _readme_commands() -> list[str]:
    return re.findall(r"^make \w+$", (ROOT / "README.md").read_text(), flags=re.MULTILINE)


def test_readme_starts_a_learner_in_its_first_lines_and_stays_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"the README has {len(lines)} lines: details belong in docs/"
    assert "## Start here" in lines[:30]
    assert _readme_commands() == ["make lab", "make all", "make test"]


def test_every_make_command_the_readme_names_exists():
    """A dry run of each, on the default stack, without naming one: the Start here commands and any other
    `make ...` the README mentions."""
    readme = (ROOT / "README.md").read_text()
    commands = set(_readme_commands()) | set(re.findall(r"`(make [a-z][^`]*)`", readme))
    assert {"make lab", "make all", "make test", "make slides"} <= commands
    for command in sorted(commands):
        assert "STACK=" not in command, command
        result = subprocess.run([*command.split(), "-n"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stderr)


def _make_on_a_machine_with(tmp_path, *pythons: str) -> subprocess.CompletedProcess:
    """`make -n env` where PATH holds only the given interpreters (each this test's Python under that name)
    and the home folder has no pyenv: what make picks on a machine that has just those."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in pythons:
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    return subprocess.run([MAKE, "-n", "env", "VENV=.venv-probe"], cwd=ROOT, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("python", ["python3.11", "python3.12", "python3.13"])
def test_make_finds_any_python_the_default_stack_accepts(tmp_path, python):
    result = _make_on_a_machine_with(tmp_path, python)
    assert result.returncode == 0, result.stderr
    assert f"{python} -m venv .venv-probe" in result.stdout


def test_make_prefers_the_newest_python_and_says_what_to_install_without_one(tmp_path):
    (tmp_path / "all").mkdir()
    assert "python3.13 -m venv" in _make_on_a_machine_with(tmp_path / "all", "python3.11", "python3.13").stdout
    (tmp_path / "none").mkdir()
    result = subprocess.run(
        [MAKE, "env", "VENV=.venv-probe"],
        cwd=ROOT,
        env={"PATH": str(tmp_path / "none"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "No Python 3.13, 3.12, 3.11 found" in result.stdout, result.stdout
    assert "or name it: make env PYTHON=/path/to/python3" in result.stdout
    assert not (ROOT / ".venv-probe").exists()


def test_ci_runs_the_readmes_test_command_on_every_stack_and_colab():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert re.search(r"^    step current make test && step colab make colab$", ci, flags=re.MULTILINE), (
        "README's `make test`"
    )
    assert re.search(r'^ONLY_PY311="env PATH=/usr/bin:/bin HOME=\$PWD/\.ci/home-py311"$', ci, flags=re.MULTILINE)
    assert re.search(r'^PY311="VENV=\.venv-py311"$', ci, flags=re.MULTILINE), "no Python named: make finds 3.11"
    assert "step env-current make env &" in ci and "step env-py311 $ONLY_PY311 make env $PY311 &" in ci
    assert "step py311 $ONLY_PY311 make test $PY311 " in ci, "the default stack's unit tests on Python 3.11"
    assert re.search(r"for stack in classic floors\b", ci)
    for stack in ("classic", "floors"):
        assert f"make test STACK={stack}" in ci
    assert "make colab" in ci
    assert re.search(r"LRP_CIFAR10_DIR=.*shared/data/cifar-10-batches-py", ci)


def test_make_lab_serves_the_notebooks_from_the_environment(tmp_path):
    """`make lab` with the venv this test runs in: JupyterLab on notebooks/, committed models, the URL printed."""
    venv = Path(sys.prefix)
    if venv.parent != ROOT:
        pytest.skip(f"make lab needs the venv inside the clone; this Python is {sys.prefix}")
    port = 18000 + os.getpid() % 1000
    command = ["make", "--no-print-directory", "lab", f"VENV={venv.name}", "LECTURE=1"]
    allow_root = " --allow-root" if os.geteuid() == 0 else ""  # CI runs as root; JupyterLab refuses without it
    command.append(f"LAB_ARGS=--no-browser --port={port} --ServerApp.port_retries=0{allow_root}")
    lab = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        printed = []
        for line in lab.stdout:
            printed.append(line)
            if f"http://localhost:{port}/lab?token=" in line or len(printed) > 200:
                break
        url = re.search(rf"http://localhost:{port}/lab\?token=\w+", "".join(printed))
        assert url, "".join(printed)
        token = url[0].split("token=")[1]
        api = f"http://localhost:{port}/api/contents?token={token}"
        for attempt in range(60):  # the URL can be printed a moment before the port accepts connections
            try:
                with urllib.request.urlopen(api, timeout=30) as response:
                    names = {item["name"] for item in json.load(response)["content"]}
                break
            except urllib.error.URLError:
                if attempt == 59:
                    raise
                time.sleep(0.5)
        assert names >= {path.name for path in colab.NOTEBOOKS}, names
        assert "Opening JupyterLab on notebooks/ (committed models, lecture mode)" in "".join(printed)
    finally:  # make and the JupyterLab it started, together
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=60)


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
    assert result.returncode != 0 and "STACK must be current, classic or floors" in result.stderr
