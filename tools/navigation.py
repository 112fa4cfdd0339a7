"""Write the last cell of every notebook: links to the previous and the next notebook and to the contents.

    python tools/navigation.py           # write or update the cells
    python tools/navigation.py --check   # list the notebooks whose cell is missing or stale, exit 1 if any

The cell is a markdown cell tagged "navigation"; the links name each notebook by its title (its first
line, "# 03 — ..."), so renaming or adding a notebook only needs this script run again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TAG = "navigation"
CONTENTS = "../README.md#notebooks"


def title(path: Path) -> str:
    """'03 — Explaining the miniVGG with LRP-ε' from the notebook's first line."""
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.removeprefix("# ")


def navigation(index: int) -> str:
    """The navigation text of the notebook at NOTEBOOKS[index]."""
    links = []
    if index > 0:
        previous = NOTEBOOKS[index - 1]
        links.append(f"[← {title(previous)}]({previous.name})")
    links.append(f"[Contents]({CONTENTS})")
    if index + 1 < len(NOTEBOOKS):
        following = NOTEBOOKS[index + 1]
        links.append(f"[{title(following)} →]({following.name})")
    return "---\n" + " · ".join(links)


def _is_navigation(cell) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def out_of_date() -> list[Path]:
    """The notebooks whose last cell is not their current navigation cell."""
    stale = []
    for index, path in enumerate(NOTEBOOKS):
        cells = nbformat.read(path, as_version=4).cells
        if not (_is_navigation(cells[-1]) and cells[-1].source == navigation(index)):
            stale.append(path)
    return stale


def write(path: Path, index: int) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if not _is_navigation(cell)]
    cell = nbformat.v4.new_markdown_cell(navigation(index))
    cell.metadata["tags"] = [TAG]
    notebook.cells.append(cell)
    nbformat.write(notebook, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell is missing or stale")
    args = parser.parse_args()
    stale = out_of_date()
    if args.check:
        for path in stale:
            print(f"{path.name}: navigation cell missing or stale; run python tools/navigation.py")
        return int(bool(stale))
    for path in stale:
        write(path, NOTEBOOKS.index(path))
        print(f"{path.name}: navigation written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
