"""Slide decks of the notebooks: the cells' slide metadata, and one reveal.js deck per notebook.

    python tools/slides.py                 # write the slide metadata into the notebooks
    python tools/slides.py --check         # list the notebooks whose metadata is missing or stale, exit 1 if any
    python tools/slides.py --decks slides  # write slides/<notebook>.slides.html (`make slides`)

A deck shows the notebook's committed outputs; nothing is executed. It loads reveal.js, require.js,
jQuery, MathJax, Font Awesome and (where a notebook shows widgets) the widget renderer from public
CDNs, at the versions in `ASSETS`; the same versions exist on the npm registry, from which
tests/test_browser.py serves them offline.

One rule for every notebook, so a deck follows the notebook's own structure:
- a markdown cell that opens with a title or a section heading ("# ", "## ") starts a new slide;
- any other markdown cell starts a sub-slide (reveal.js: below its section's slide), so each step of
  the argument gets a slide of its own with the code and figures that follow it;
- the "Setup" section (the Colab installation, `setup_notebook()`, the imports) and the navigation
  cell (tools/navigation.py) are left out of the deck: plumbing, not lecture material;
- every other code cell continues the slide before it.

A deck is a lecture, not the notebook, so it shows a code cell's code only where the code is the lesson:
cells tagged `lesson-code` (cell metadata "tags") show code and outputs, every other code cell only its
outputs (a cell without outputs, and output to stderr, is left out). Every slide is made to fit a
1280×720 screen: reveal.js lays the deck out at that size (`SLIDE`) and scales it to the window. In the
deck only (the notebook's metadata keeps the rule above), a markdown cell that holds more than one
section, or more text than a slide holds (`TEXT_LINES`), is cut into slides at its headings and
sub-slides at its paragraphs, and a code cell whose figures would have to shrink below `FIGURE_SCALE`
to fit under the text before it starts a sub-slide (a `lesson-code` cell's code stays, its outputs
move). In the browser (slides_template/) figures are scaled down until the slide fits, long printed
text scrolls in its box, and what is still too tall is zoomed out, down to `MIN_ZOOM`.
tests/test_browser.py opens every slide in Chromium and fails on any that does not fit.
"""

from __future__ import annotations

import argparse
import base64
import copy
import math
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SKIPPED_TAGS = {"navigation"}
LESSON_CODE = "lesson-code"  # the tag of a code cell whose code the deck shows
SETUP = "## Setup"  # the heading of the set-up section
SLIDE = {"width": 1280, "height": 720}  # the size reveal.js lays every slide out at, in CSS pixels
# The least a slide's content is zoomed out to fit (after its figures have been scaled down): 0.7 keeps
# 22 px text at 15 px and 17 px code at 12 px on a 1280×720 screen. Content that needs more does not fit.
MIN_ZOOM = 0.7
# How much markdown one slide takes, in lines of body text (22 px type on 29 px lines, about 105
# characters a line, as measured in Chromium; 24 lines fill a slide): a longer markdown cell is cut at
# paragraphs. A cell's share of a slide is estimated from its source (`text_lines`) and its outputs
# (`output_height`).
TEXT_LINES = 15
CHARACTERS_PER_LINE = 100
LINE_PX = 29
# A figure is scaled down to fit its slide (slides_template/), but it starts a sub-slide of its own rather
# than shrink below this share of the size it would have alone (a slide's height is only estimated here,
# so the browser may still have to scale it a little further).
FIGURE_SCALE = 0.9
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
HEADING = re.compile(r"^(#{1,6}) ")
BADGE = re.compile(r"^\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)\s*$")  # a line that is only a linked badge ("Open in Colab")


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


def is_lesson_code(cell) -> bool:
    return cell.cell_type == "code" and LESSON_CODE in cell.metadata.get("tags", [])


def _blocks(source: str) -> list[str]:
    """Markdown source cut into blocks at blank lines and before headings; a fenced code block or a
    display formula stays whole."""
    blocks, current, fence, formula = [], [], False, False
    for line in source.splitlines():
        stripped = line.strip()
        if not fence and not formula and (not stripped or HEADING.match(line)):
            if current:
                blocks.append("\n".join(current))
                current = []
            if not stripped:
                continue
            blocks.append(line)  # a heading is a block of its own
            continue
        current.append(line)
        if stripped.startswith("```"):
            fence = not fence
        elif not fence and stripped.count("$$") % 2:
            formula = not formula
    if current:
        blocks.append("\n".join(current))
    return blocks


def _shown_length(text: str) -> int:
    """About how many characters `text` shows: LaTeX commands, markup and link targets take no room."""
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\\[a-zA-Z]+", "x", text)
    return len(re.sub(r"[*_`$\\{}]", "", text))


def text_lines(block: str) -> float:
    """The estimated height of a markdown block in lines of body text."""
    heading = HEADING.match(block)
    if heading:
        return {1: 3.0, 2: 2.2}.get(len(heading.group(1)), 1.6)
    lines = block.splitlines()
    if block.lstrip().startswith("$$"):
        return 1.0 + 1.5 * len(lines) + 1.5 * block.count(r"\underbrace") + 0.8 * block.count(r"\frac")
    if block.lstrip().startswith("```"):
        return 0.8 * len(lines) + 0.6
    if all(line.lstrip().startswith("|") for line in lines):  # a table: one row a line, wrapped where long
        rows = [line for line in lines if not re.fullmatch(r"\s*\|[\s|:-]*", line)]
        return 0.6 + sum(1.3 * math.ceil(_shown_length(row) / CHARACTERS_PER_LINE) for row in rows)
    items, item = [], ""  # a list's items, or the paragraph as one item
    for line in lines:
        if re.match(r"\s*([-*+]|\d+\.) ", line) and item:
            items.append(item)
            item = ""
        item += " " + line.strip()
    items.append(item)
    indent = 0.95 if len(items) > 1 else 1.0  # list items are narrower
    return 0.6 + sum(math.ceil(_shown_length(text) / (CHARACTERS_PER_LINE * indent)) for text in items)


def split_markdown(source: str, slide_type: str) -> list[tuple[str, str]]:
    """A markdown cell as the deck shows it, as [(slide type, source)]: cut at every section heading
    ("## " and above: a new slide) and wherever more text piles up than a slide holds (`TEXT_LINES`:
    a sub-slide). A lone linked badge line ("Open in Colab") is left out."""
    source = "\n".join(line for line in source.splitlines() if not BADGE.match(line))
    pieces: list[tuple[str, list[str], float]] = []  # (slide type, blocks, lines)
    for block in _blocks(source):
        heading = HEADING.match(block)
        lines = text_lines(block)
        if not pieces:
            pieces.append((slide_type, [block], lines))
        elif heading and len(heading.group(1)) <= 2:
            pieces.append(("slide", [block], lines))
        elif pieces[-1][2] + lines > TEXT_LINES and not HEADING.match(pieces[-1][1][-1]):
            pieces.append(("subslide", [block], lines))  # never cut a heading from its first paragraph
        else:
            kind, blocks, total = pieces[-1]
            pieces[-1] = (kind, [*blocks, block], total + lines)
    return [(kind, "\n\n".join(blocks)) for kind, blocks, _ in pieces]


def _shown_outputs(cell) -> list:
    """The outputs a deck shows: all but text written to stderr (warnings, progress), with consecutive
    printed text joined into one block (Keras prints a model summary in dozens of pieces)."""
    outputs = []
    for output in cell.get("outputs", []):
        if output.get("name") == "stderr":
            continue
        if output.output_type == "stream" and outputs and outputs[-1].output_type == "stream":
            outputs[-1] = copy.deepcopy(outputs[-1])
            outputs[-1].text += output.text
        else:
            outputs.append(output)
    return outputs


def _png_size(data: str) -> tuple[int, int]:
    header = base64.b64decode("".join(data[:64].split())[:32])  # the PNG signature and IHDR chunk
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def output_height(output, figure_scale: float = 1.0) -> float:
    """The estimated height of an output on a slide, in CSS pixels (slides_template/ sizes them);
    figures at `figure_scale` of the size they would take alone."""
    data = output.get("data", {})
    if "image/png" in data:
        width, height = _png_size(data["image/png"])
        return 8 + figure_scale * min(height * min(1, (SLIDE["width"] - 80) / width), 600)
    if output.output_type == "stream":
        return 16 + 19.5 * min(output.text.count("\n") + 1, 16)  # a longer text scrolls
    if "text/markdown" in data:
        return LINE_PX * sum(text_lines(block) for block in _blocks(data["text/markdown"]))
    if "text/html" in data:
        return 30 * max(data["text/html"].count("<tr"), 1)
    return 400 if "application/vnd.jupyter.widget-view+json" in data else 30


def _shows_code(cell) -> bool:
    return is_lesson_code(cell) and not cell.metadata.get("transient", {}).get("remove_source", False)


def cell_height(cell, figure_scale: float = 1.0) -> float:
    """The estimated height of a cell on a slide, in CSS pixels."""
    if cell.cell_type == "markdown":
        return LINE_PX * sum(text_lines(block) for block in _blocks(cell.source))
    code = 23 * len(cell.source.splitlines()) + 20 if _shows_code(cell) else 0
    return code + sum(output_height(output, figure_scale) for output in cell.get("outputs", []))


def _fit_outputs(cells: list) -> list:
    """`cells` with a sub-slide started at each code cell whose outputs would not fit below what its
    slide already shows (its figures scaled to `FIGURE_SCALE`), unless the slide holds little yet; where
    the code of a `lesson-code` cell still fits, it stays and its outputs go on to the sub-slide."""
    fitted, used, height = [], 0.0, SLIDE["height"]
    for cell in cells:
        if cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide"):
            used = 0.0
        elif cell.cell_type == "code" and used + cell_height(cell, FIGURE_SCALE) > height:
            code = copy.deepcopy(cell)
            code.outputs = []
            cut = _shows_code(cell) and bool(cell.outputs) and used + cell_height(code) <= height
            if cut:
                fitted.append(code)
                cell = copy.deepcopy(cell)
                cell.metadata["transient"] = {"remove_source": True}
                if "id" in cell:
                    cell.id = f"{cell.id}-outputs"
            if cut or used > height / 4:
                cell.metadata["slideshow"] = {"slide_type": "subslide"}
                used = 0.0
        fitted.append(cell)
        used += cell_height(cell)
    return fitted


def deck_notebook(notebook):
    """A copy of `notebook` as its deck shows it: slide types by the rule above (whatever metadata the
    cells carry), skipped cells gone, code only in `lesson-code` cells, long markdown cut."""
    deck = copy.deepcopy(notebook)
    cells = []
    for cell, slide_type in zip(deck.cells, slide_types(notebook)):
        if slide_type == "skip":
            continue
        if cell.cell_type == "markdown":
            for number, (kind, source) in enumerate(split_markdown(cell.source, slide_type)):
                piece = copy.deepcopy(cell)
                piece.source = source
                if number and "id" in piece:
                    piece.id = f"{cell.id}-{number}"
                piece.metadata["slideshow"] = {"slide_type": kind}
                cells.append(piece)
            continue
        cell.metadata["slideshow"] = {"slide_type": slide_type}
        if cell.cell_type == "code":
            cell.outputs = _shown_outputs(cell)
            if not is_lesson_code(cell):
                if not cell.outputs:
                    continue
                cell.metadata["transient"] = {"remove_source": True}  # nbconvert's templates then omit the code
        cells.append(cell)
    deck.cells = _fit_outputs(cells)
    return deck


def exporter():
    """nbconvert's slides exporter with our template (slides_template/: reveal's, without Mermaid, laid
    out at `SLIDE` and fitting every slide into it), loading the assets above."""
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
    )


def write_deck(path: Path, folder: Path) -> Path:
    """Write the deck of the notebook at `path` into `folder`; returns the deck's path."""
    notebook = deck_notebook(nbformat.read(path, as_version=4))
    resources = {"metadata": {"name": path.stem}, "lrp_slides": {**SLIDE, "min_zoom": MIN_ZOOM}}
    body, _ = exporter().from_notebook_node(notebook, resources=resources)
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
