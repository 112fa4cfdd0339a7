"""`make slides`: every notebook carries its slide metadata, and a deck shows what a lecture needs: the
code of `lesson-code` cells only, long markdown cut into slides, figures on slides of their own where
they would shrink. Every deck in Chromium, slide by slide on a 1280×720 screen: tests/test_browser.py.
"""

from __future__ import annotations

import base64
import sys
import zlib

import nbformat
import pytest
from conftest import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402


def test_every_notebook_carries_its_slide_metadata():
    assert slides.out_of_date() == [], "run: python tools/slides.py"


def _png(width: int, height: int) -> str:
    """A blank PNG of the given size, base64-encoded as in a notebook's outputs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\0" + b"\0" * width for _ in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _figure(width: int = 900, height: int = 500):
    return new_output("display_data", data={"image/png": _png(width, height), "text/plain": "<Figure>"})


def _lesson_notebook():
    return new_notebook(
        cells=[
            new_markdown_cell("# 00 — A lesson\nWhat it is about."),
            new_markdown_cell("## Setup"),
            new_code_cell("settings = setup_notebook()"),
            new_markdown_cell("## 1. The idea\nOne paragraph."),
            new_code_cell(
                "data = plumbing_load()", outputs=[new_output("stream", name="stdout", text="data loaded\n")]
            ),
            new_code_cell("heatmap = lesson_analyze(image)", metadata={"tags": [slides.LESSON_CODE]}),
            new_code_cell("silent_helper = 1"),
            new_code_cell(
                "plumbing_plot(heatmap)", outputs=[_figure(), new_output("stream", name="stderr", text="a warning\n")]
            ),
        ]
    )


def test_a_deck_shows_the_code_of_lesson_code_cells_only(tmp_path):
    path = tmp_path / "00_lesson.ipynb"
    nbformat.write(_lesson_notebook(), path)
    html = slides.write_deck(path, tmp_path).read_text(encoding="utf-8")
    slides_html = html[html.index("<main>") : html.index("</main>")]
    assert slides_html.count("jp-CodeMirrorEditor") == 1
    assert "lesson_analyze" in slides_html
    assert not any(
        name in slides_html for name in ("plumbing_load", "plumbing_plot", "silent_helper", "setup_notebook")
    )
    assert "data loaded" in slides_html  # an untagged cell's output is shown
    assert "a warning" not in slides_html  # stderr is not
    assert slides_html.count("<img") == 1


def test_every_notebook_shows_one_to_four_short_lesson_code_cells():
    for path in slides.NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        lesson = [cell for cell in notebook.cells if slides.is_lesson_code(cell)]
        assert 1 <= len(lesson) <= 4, f"{path.name}: {len(lesson)} cells tagged {slides.LESSON_CODE}"
        long = [cell.source.splitlines()[0] for cell in lesson if len(cell.source.splitlines()) > 12]
        assert not long, f"{path.name}: lesson code longer than 12 lines does not fit a slide: {long}"
        shown = slides.deck_notebook(notebook).cells
        assert sum(cell.cell_type == "code" and "transient" not in cell.metadata for cell in shown) == len(lesson)


def test_a_markdown_cell_is_cut_at_its_sections_and_where_a_slide_is_full():
    paragraph = "A sentence that says one thing about relevance and conservation, with some length to it. " * 3
    source = "## Summary\n" + "\n\n".join([paragraph] * 12) + "\n\n## Exercises\n1. Do this.\n2. Do that."
    pieces = slides.split_markdown(source, "slide")
    kinds = [kind for kind, _ in pieces]
    assert kinds[0] == "slide" and pieces[0][1].startswith("## Summary")
    assert "subslide" in kinds  # the long summary goes on over sub-slides
    exercises = [text for kind, text in pieces if text.startswith("## Exercises")]
    assert len(exercises) == 1 and kinds[[text for _, text in pieces].index(exercises[0])] == "slide"
    assert "\n\n".join(text for _, text in pieces).count(paragraph.strip()) == 12  # nothing lost
    for _, text in pieces:
        assert sum(slides.text_lines(block) for block in slides._blocks(text)) <= slides.TEXT_LINES + 3.5


def test_a_short_markdown_cell_stays_whole_and_a_heading_keeps_its_paragraph():
    assert slides.split_markdown("Two lines\nof text.", "subslide") == [("subslide", "Two lines\nof text.")]
    formula = "$$\nz(x) = \\sum_j x_j w_j + b\n\n= 0\n$$"
    assert len(slides._blocks(formula)) == 1  # a display formula is never cut
    pieces = slides.split_markdown("## 2. A section\n" + "\n\n".join(["word " * 300] * 2), "slide")
    assert pieces[0][1].startswith("## 2. A section\n\nword")


@pytest.mark.parametrize(("text_before", "new_slide"), [(2, False), (14, True)])
def test_a_figure_gets_a_sub_slide_of_its_own_where_it_would_shrink(text_before, new_slide):
    notebook = new_notebook(
        cells=[
            new_markdown_cell("## 1. A section\n" + "\n\n".join(["word " * 18] * text_before)),
            new_code_cell("plot()", outputs=[_figure(900, 600)]),
        ]
    )
    cells = slides.deck_notebook(notebook).cells
    assert cells[-1].metadata["slideshow"]["slide_type"] == ("subslide" if new_slide else "-")


def test_printed_text_in_pieces_is_one_block_in_the_deck():
    pieces = [new_output("stream", name="stdout", text=f"layer {i}\n") for i in range(60)]
    notebook = new_notebook(cells=[new_markdown_cell("## 1. Model"), new_code_cell("model.summary()", outputs=pieces)])
    (cell,) = [cell for cell in slides.deck_notebook(notebook).cells if cell.cell_type == "code"]
    assert len(cell.outputs) == 1 and cell.outputs[0].text.count("layer") == 60


def test_lesson_code_stays_and_its_figure_moves_on_where_both_do_not_fit():
    code = "\n".join(f"step_{i} = compute({i})" for i in range(10))
    notebook = new_notebook(
        cells=[
            new_markdown_cell("## 1. A section\n" + "\n\n".join(["word " * 18] * 4)),
            new_code_cell(code, metadata={"tags": [slides.LESSON_CODE]}, outputs=[_figure(1200, 700)]),
        ]
    )
    *_, shown_code, figure = slides.deck_notebook(notebook).cells
    assert shown_code.source == code and shown_code.outputs == [] and "transient" not in shown_code.metadata
    assert figure.metadata["slideshow"]["slide_type"] == "subslide"
    assert figure.metadata["transient"] == {"remove_source": True} and len(figure.outputs) == 1
