"""Drop the progress bars a notebook run leaves in the saved outputs.

    python tools/clean_outputs.py NOTEBOOK...           # clean them in place (`make all` does)
    python tools/clean_outputs.py --check NOTEBOOK...   # list what needs cleaning, exit 1 if anything does

While a notebook runs, tqdm draws its progress bars as widgets and updates them live. A notebook saved
by `jupyter nbconvert --execute` keeps only each widget's first text form, "checking rules: 0%| | 0/10
[00:00<?, ?it/s]" or "0epoch [00:00, ?epoch/s]", which reads like a run that never started. The bars
are gone from the screen when a run ends (they are closed, or replaced by a printed summary), so the
saved notebook drops them too. Text-only front ends get tqdm's bars on stderr; those go as well. The
saved widget state goes with the last widget output: a slide deck or an HTML export would otherwise
load a widget renderer for nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

WIDGET = "application/vnd.jupyter.widget-view+json"
PROGRESS_BAR = re.compile(r"\[\d\d:\d\d(?:<|,)")  # tqdm's "[00:00<?, ?it/s]", "[00:00, ?epoch/s]"


def is_progress_bar(output) -> bool:
    if output.get("output_type") == "display_data" and WIDGET in output.get("data", {}):
        return bool(PROGRESS_BAR.search(output["data"].get("text/plain", "")))
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        lines = [line for line in re.split(r"[\r\n]", output.get("text", "")) if line.strip()]
        return bool(lines) and all(PROGRESS_BAR.search(line) for line in lines)
    return False


def progress_bars(notebook) -> list[int]:
    """The indices of the code cells that show a progress bar."""
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and any(is_progress_bar(output) for output in cell.outputs)
    ]


def orphan_widget_state(notebook) -> bool:
    """True if the notebook stores widget state but no output shows a widget."""
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    shown = any(WIDGET in output.get("data", {}) for output in outputs)
    return "widgets" in notebook.metadata and not shown


def clean(path: Path) -> int:
    """Remove the progress bars (and then orphaned widget state) from the notebook at `path`; returns
    how many cells changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = progress_bars(notebook)
    for index in changed:
        cell = notebook.cells[index]
        cell.outputs = [output for output in cell.outputs if not is_progress_bar(output)]
    orphan = orphan_widget_state(notebook)
    if orphan:
        del notebook.metadata["widgets"]
    if changed or orphan:
        nbformat.write(notebook, path)
    return len(changed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook has a bar")
    args = parser.parse_args()
    if args.check:
        dirty = False
        for path in args.notebooks:
            notebook = nbformat.read(path, as_version=4)
            cells, orphan = progress_bars(notebook), orphan_widget_state(notebook)
            if cells or orphan:
                what = f"progress bars in cells {cells}" if cells else "widget state without a widget"
                print(f"{path}: {what}; run tools/clean_outputs.py {path}")
                dirty = True
        return int(dirty)
    for path in args.notebooks:
        print(f"{path}: {clean(path)} cells had progress bars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
