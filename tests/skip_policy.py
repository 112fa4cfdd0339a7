"""A pytest hook: an unexpected skip is a failure, so a green run never hides a test that did not run.

Skips whose reason starts with one of ALLOWED_SKIPS may happen on a user's machine (they are still
listed, as pytest runs with -rs). In CI (CI=true) no skip is allowed at all: there every test must
run, and a skip means a broken install step. tests/conftest.py imports the hook.
"""

import os

import pytest

ALLOWED_SKIPS = ("Chromium is not installed", "The other stack's venv is missing")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn an unexpected skip into a failure that names its reason."""
    report = (yield).get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"} or not reason.startswith(ALLOWED_SKIPS):
        report.outcome = "failed"
        report.longrepr = (
            f"unexpected skip: {reason}\n(tests/skip_policy.py turns skips into failures "
            f"unless the reason starts with one of {ALLOWED_SKIPS}, and allows none in CI)"
        )
