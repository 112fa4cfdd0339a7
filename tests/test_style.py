"""Lint and format with ruff (configured in pyproject.toml) on the package, tests, benchmarks, tools,
notebooks and solutions. To fix: `ruff check --fix` and `ruff format` on the paths below."""

import subprocess
import sys

from conftest import ROOT

PATHS = ["lrp_helpers", "tests", "benchmarks", "tools", "notebooks", "solutions"]


def ruff(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, *PATHS], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_lint():
    result = ruff("check", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_format():
    result = ruff("format", "--check")
    assert result.returncode == 0, "run `ruff format` on: " + result.stdout + result.stderr
