"""Write a stack's lock file: every package pinned, for every Python the stack accepts.

    make lock                  # the current stack (the default), on Python 3.11, 3.12 and 3.13
    make lock STACK=classic    # the classic stack, on Python 3.11

For each Python, pip resolves the package with the stack's extra and the test extra (newest allowed
versions, plus the stack's pins) without installing anything (`pip install --dry-run --report`). Where
the Pythons agree on a version the lock has one line; where they differ (a release that dropped
Python 3.11, a backport only older Pythons need) each Python gets its own line with a
`python_version` marker, which pip's constraints honour. Packages whose metadata is stale (iNNvestigate
on the current stack) are pinned as given: `make env` installs them without their dependencies.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def canonicalize_name(name: str) -> str:
    """PEP 503's normalised name (as packaging.utils has it; this script runs on a bare Python)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(python: str, extra: str, pins: list[str]) -> dict[str, tuple[str, str]]:
    """{canonical name: (name as published, version)} of everything pip would install on `python`."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [python, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed"]
        subprocess.run([*command, "--report", str(report), f"{ROOT}[{extra},test]", *pins], check=True)
        installs = json.loads(report.read_text())["install"]
    resolved = {}
    for item in installs:
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if canonicalize_name(name) != "lrp-helpers":
            resolved[canonicalize_name(name)] = (name, version)
    return resolved


def lock_lines(per_python: dict[str, dict[str, tuple[str, str]]], unresolved: list[str]) -> list[str]:
    """One `name==version` line per package, or one per Python (with its marker) where they differ."""
    names = sorted(
        {name for resolved in per_python.values() for name in resolved}
        | {canonicalize_name(pin.split("==")[0]) for pin in unresolved}
    )
    fixed = {canonicalize_name(pin.split("==")[0]): pin for pin in unresolved}
    lines = []
    for name in names:
        if name in fixed:
            lines.append(fixed[name])
            continue
        pins = {python: resolved.get(name) for python, resolved in per_python.items()}
        if len({pin for pin in pins.values()}) == 1:
            published, version = next(iter(pins.values()))
            lines.append(f"{published}=={version}")
        else:
            lines += [
                f'{pin[0]}=={pin[1]} ; python_version == "{python}"' for python, pin in pins.items() if pin is not None
            ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack, which is also its extra in pyproject.toml")
    parser.add_argument(
        "--python", nargs="+", required=True, metavar="X.Y=PATH", help="each Python the stack accepts, and where"
    )
    parser.add_argument("--pin", nargs="*", default=[], help="requirements the resolution must keep (Colab's)")
    parser.add_argument("--no-deps", nargs="*", default=[], help="name==version, locked as given (stale metadata)")
    args = parser.parse_args()
    interpreters = dict(item.split("=", 1) for item in args.python)
    missing = [version for version, path in interpreters.items() if not path]
    if missing:
        sys.exit(f"make lock STACK={args.stack} resolves on every Python the stack accepts; not found: {missing}")
    per_python = {}
    for version, path in interpreters.items():
        print(f"resolving the {args.stack} stack on Python {version} ({path})", flush=True)
        per_python[version] = resolve(path, args.stack, args.pin)
    pythons = ", ".join(interpreters)
    header = f"# Lock file of the {args.stack} stack (Python {pythons}), used by make env and CI. Refresh: make lock"
    if args.stack != "current":
        header += f" STACK={args.stack}"
    text = "\n".join([header, *lock_lines(per_python, args.no_deps)]) + "\n"
    (ROOT / "constraints" / f"{args.stack}.txt").write_text(text)
    print(f"wrote constraints/{args.stack}.txt")


if __name__ == "__main__":
    main()
