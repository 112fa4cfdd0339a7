"""Slide decks of the notebooks: the cells' slide metadata, and one reveal.js deck per notebook.

    python tools/slides.py                 # write the slide metadata into the notebooks
    python tools/slides.py --check         # list the notebooks whose metadata is missing or stale, exit 1 if any
    python tools/slides.py --decks slides  # write slides/<notebook>.slides.html (`make slides`)

A deck shows the notebook's committed outputs; nothing is executed. It loads reveal.js, require.js,
jQuery, MathJax, Font Awesome and (where a notebook shows widgets) the widget renderer from public
CDNs, at the versions in `ASSETS`; the same versions exist on the npm registry, from which
tests/test_slides.py serves them offline.

One rule for every notebook, so a deck follows the notebook's own structure:
- a markdown cell that opens with a title or a section heading ("# ", "## ") starts a new slide;
- any other markdown cell starts a sub-slide (reveal.js: below its section's slide), so each step of
  the argument gets a slide of its own with the code and figures that follow it;
- the "Setup" section (the Colab installation, `setup_notebook()`, the imports) and the navigation
  cell (tools/navigation.py) are left out of the deck: plumbing, not lecture material;
- every other code cell continues the slide before it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SKIPPED_TAGS = {"navigation"}
SETUP = "## Setup"  # the heading of the set-up section
CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
# What a deck loads: the address it asks for (a file, or a folder ending in "/"), and the npm package and
# path inside it that holds the same file(s). MathJax is loaded directly, not through its "latest.js",
# which would look up the newest version online.
ASSETS = {
    "https://unpkg.com/reveal.js@4.0.2/": ("reveal.js@4.0.2", ""),
    f"{CDNJS}/require.js/2.1.10/require.min.js": ("requirejs@2.1.10", "require.js"),
    f"{CDNJS}/jquery/2.1.4/jquery.min.js": ("jquery@2.1.4", "dist/jquery.min.js"),
    f"{CDNJS}/mathjax/2.7.7/": ("mathjax@2.7.7", ""),
    f"{CDNJS}/font-awesome/4.7.0/": ("font-awesome@4.7.0", ""),
    "https://unpkg.com/@jupyter-widgets/html-manager@1.0.15/": ("@jupyter-widgets/html-manager@1.0.15", ""),
}


def slide_types(notebook) -> list[str]:
    """The reveal.js slide type of every cell, by the rule above."""
    types, in_setup = [], False
    for cell in notebook.cells:
        heading = cell.source.lstrip().split(" ", 1)[0] if cell.cell_type == "markdown" else ""
        if heading in ("#", "##"):
            in_setup = cell.source.strip().splitlines()[0] == SETUP
        if in_setup or SKIPPED_TAGS & set(cell.metadata.get("tags", [])):
            types.append("skip")
        elif heading in ("#", "##"):
            types.append("slide")
        elif cell.cell_type == "markdown":
            types.append("subslide")
        else:
            types.append("-")
    return types


def out_of_date() -> list[Path]:
    """The notebooks with a cell whose slide type is not the rule's."""
    stale = []
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        current = [cell.metadata.get("slideshow", {}).get("slide_type") for cell in notebook.cells]
        if current != slide_types(notebook):
            stale.append(path)
    return stale


def write(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell, slide_type in zip(notebook.cells, slide_types(notebook)):
        cell.metadata["slideshow"] = {"slide_type": slide_type}
    nbformat.write(notebook, path)


def exporter():
    """nbconvert's slides exporter with our template (slides_template/: reveal's, without Mermaid),
    loading the assets above; long slides scroll."""
    from nbconvert import SlidesExporter

    return SlidesExporter(
        extra_template_basedirs=[str(ROOT / "tools")],
        template_name="slides_template",
        reveal_url_prefix="https://unpkg.com/reveal.js@4.0.2",
        require_js_url=f"{CDNJS}/require.js/2.1.10/require.min.js",
        jquery_url=f"{CDNJS}/jquery/2.1.4/jquery.min.js",
        mathjax_url=f"{CDNJS}/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        font_awesome_url=f"{CDNJS}/font-awesome/4.7.0/css/font-awesome.css",
        widget_renderer_url="https://unpkg.com/@jupyter-widgets/html-manager@1.0.15/dist/embed-amd.js",
        reveal_theme="white",  # its font comes with reveal.js; "simple" fetches Google Fonts
        reveal_scroll=True,
    )


def write_deck(path: Path, folder: Path) -> Path:
    """Write the deck of the notebook at `path` into `folder`; returns the deck's path."""
    body, _ = exporter().from_filename(str(path))
    deck = folder / f"{path.stem}.slides.html"
    deck.write_text(body, encoding="utf-8")
    return deck


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if metadata is missing or stale")
    parser.add_argument("--decks", type=Path, metavar="FOLDER", help="write every notebook's deck into FOLDER")
    args = parser.parse_args()
    if args.decks:
        args.decks.mkdir(parents=True, exist_ok=True)
        for path in NOTEBOOKS:
            print(f"{write_deck(path, args.decks)}")
        return 0
    stale = out_of_date()
    if args.check:
        for path in stale:
            print(f"{path.name}: slide metadata missing or stale; run python tools/slides.py")
        return int(bool(stale))
    for path in stale:
        write(path)
        print(f"{path.name}: slide metadata written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
