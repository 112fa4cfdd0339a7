"""environment.yml, pyproject.toml, README, Makefile and CI agree with each other."""
import re
import tomllib

import yaml

from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_matches_pyproject():
    project = _pyproject()
    wanted = {req.replace(" ", "") for req in project["dependencies"] + project["optional-dependencies"]["test"]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    listed = {req.replace(" ", "") for req in pip_section if not req.startswith("-e")}
    assert listed == wanted
    assert "python=3.11" in environment["dependencies"]
    assert "-e ." in pip_section


def test_tensorflow_and_innvestigate_are_pinned_with_a_reason():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"tensorflow==2.14.*"' in text and '"innvestigate==2.1.2"' in text
    comment = text[: text.index('"tensorflow==2.14.*"')].rsplit("dependencies = [", 1)[1]
    assert "Pinned" in comment and "Keras" in comment


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+$", readme, flags=re.MULTILINE)
    assert commands[:2] == ["make all", "make test"]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci_lines[-1] == "make test"
    assert any("LRP_CIFAR10_DIR" in line and "shared/data/cifar-10-batches-py" in line for line in ci_lines)
