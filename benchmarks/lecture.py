"""Lecture timings: each notebook run top to bottom in lecture mode, loading the committed models.

    LRP_CIFAR10_DIR=... LRP_SPAM_DIR=... .venv/bin/python benchmarks/lecture.py [NOTEBOOK ...]

For every notebook (default: all), on a fresh kernel, as a lecturer runs it (LRP_LECTURE=1): the wall
time from starting the kernel to the last cell, and to the end of the first cell that draws a figure.
Models are loaded, never trained (notebook 02 loads the committed model and plots the training curves
recorded with it), and notebooks use their lecture sizes where they name one. Figures go to a scratch
folder and the executed notebooks are not saved, so the committed ones are not touched.
Run on an otherwise idle machine; goals (issue 14): every notebook in 90 s, its first figure in 20 s.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import machine  # benchmarks/machine.py
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def time_notebook(path: Path) -> tuple[float, float | None]:
    """(seconds to the end, seconds to the end of the first cell with a figure, or None)."""
    notebook = nbformat.read(path, as_version=4)
    where = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(notebook, timeout=-1, kernel_name="python3", resources=where)
    start = time.time()
    client.execute()
    total = time.time() - start
    for cell in notebook.cells:
        figure = cell.cell_type == "code" and any("image/png" in output.get("data", {}) for output in cell.outputs)
        if figure:
            return total, _seconds(cell.metadata["execution"]["shell.execute_reply"]) - start
    return total, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--record", metavar="FILE", help="also write the timings to this JSON file")
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="lecture-") as scratch:
        os.environ.update(LRP_QUICK="0", LRP_LECTURE="1", LRP_RETRAIN="0", LRP_IMAGES_DIR=scratch)
        print(f"machine: {machine.describe()}")
        print(f"{'notebook':<40}{'to the end':>12}{'first figure':>14}")
        timings = {}
        for path in notebooks:
            total, first = time_notebook(path.resolve())
            timings[path.name] = {"seconds": round(total, 1), "first_figure_seconds": first and round(first, 1)}
            shown = f"{first:.0f} s" if first is not None else "no figure"
            print(f"{path.name:<40}{total:>10.0f} s{shown:>14}", flush=True)
    if args.record:
        result = {"date": datetime.date.today().isoformat(), "machine": machine.record(), "notebooks": timings}
        Path(args.record).write_text(json.dumps(result, indent=1) + "\n")
        print(f"recorded in {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
