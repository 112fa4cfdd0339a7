"""tests/skip_policy.py (loaded by tests/conftest.py) turns unexpected skips into failures, so a green
run never hides a test that did not run. Checked on a throwaway test file run by a separate pytest
with that plugin."""

import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent

TESTS = """
import pytest

def test_runs():
    pass

def test_skips_for_no_good_reason():
    pytest.skip("no data here")

def test_skips_without_chromium():
    pytest.skip("Chromium is not installed: apt-get install chromium")
"""


def run_pytest(tmp_path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(TESTS)
    env = {"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONPATH": str(TESTS_DIR)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "skip_policy",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("ci, outcome", [("", "1 failed, 1 passed, 1 skipped"), ("true", "2 failed, 1 passed")])
def test_unexpected_skips_fail(tmp_path, ci, outcome):
    result = run_pytest(tmp_path, ci)
    assert result.returncode == 1, result.stdout
    assert outcome in result.stdout, result.stdout
    assert "unexpected skip: no data here" in result.stdout
