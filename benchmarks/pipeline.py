"""Wall time of the two README commands: `make test` (quick mode) and `make all` (full settings).

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/pipeline.py [--test-suite] [--main-job]

`make all` executes every notebook at full settings and saves it with its outputs (it rewrites
notebooks/, images/ and models/mini_vgg.h5 — that is how the committed outputs are made). The
per-notebook times come from the moments `make` announces each notebook. Run on an otherwise idle
machine; the environment must already exist (run `make env` first, so installing is not timed).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import machine  # benchmarks/machine.py

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str]) -> tuple[float, list[tuple[float, str]], int]:
    """Run `command` in the project root, echoing its output; returns (seconds, timed lines, exit code)."""
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            lines.append((time.perf_counter() - start, line.rstrip()))
            sys.stdout.write(line)
    return time.perf_counter() - start, lines, process.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-suite", action="store_true", help="time `make test`")
    parser.add_argument("--main-job", action="store_true", help="time `make all`")
    args = parser.parse_args()
    if not (args.test_suite or args.main_job):
        parser.error("choose --test-suite, --main-job or both")
    summary = [f"machine: {machine.describe()}"]
    if args.test_suite:
        seconds, _, status = run(["make", "test"])
        summary.append(f"make test (quick mode): {seconds / 60:.1f} min, exit code {status}")
    if args.main_job:
        seconds, lines, status = run(["make", "all"])
        starts = [(t, text[3:]) for t, text in lines if text.startswith("== ")]
        ends = [t for t, _ in starts[1:]] + [seconds]
        summary.append(f"make all (every notebook, full settings): {seconds / 60:.1f} min, exit code {status}")
        summary += [f"  {Path(name).name:<36}{(end - begin) / 60:5.1f} min" for (begin, name), end in zip(starts, ends)]
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
