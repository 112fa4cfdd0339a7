"""Every notebook follows the collection's skeleton, is listed in the contents, links only to
images that exist, teaches the package's own code where it says so (`# @save`), and is committed with
the outputs of one complete run."""

import ast
import json
import re
import sys

import pytest
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
CI_OR_TEST_TALK = re.compile(r"\bCI\b|nbval|tests/|pytest|\btest_|headless|Chromium")


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell):
    return "".join(cell["source"])


def _prose(path):
    """The markdown of a notebook, or the text of a markdown file."""
    if path.suffix == ".ipynb":
        return "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    return path.read_text()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_skeleton(path):
    cells = _cells(path)
    number = path.name[:2]
    first = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and first.startswith(f"# {number} — "), "title"
    assert "**What you will learn**" in first
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "setup_notebook()" in _source(code[0]), "the first code cell is the setup call"
    headings = [line for c in cells if c["cell_type"] == "markdown" for line in _source(c).splitlines()]
    assert "## Summary" in headings and "## Exercises" in headings
    assert headings.index("## Summary") < headings.index("## Exercises")
    placeholders = [line for line in headings if "PROSE_" in line]
    assert not placeholders, placeholders


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_the_contents(path):
    assert f"(notebooks/{path.name})" in (ROOT / "README.md").read_text()


FILE_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "path", NOTEBOOKS + SOLUTIONS + [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))], ids=lambda p: p.name
)
def test_links_to_files_resolve(path):
    """Every relative link in the prose points to a file that exists (a moved module breaks it)."""
    text = _prose(path)
    for link in FILE_LINK.findall(text):
        if not link.startswith(("http:", "https:", "mailto:")):
            assert (path.parent / link).resolve().exists(), f"{path.name} links to missing {link}"


@pytest.mark.parametrize(
    "path", NOTEBOOKS + [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))], ids=lambda p: p.name
)
def test_image_links_resolve(path):
    text = _prose(path)
    for link in IMAGE_LINK.findall(text):
        if not link.startswith("http"):
            assert (path.parent / link).resolve().is_file(), f"{path.name} links to missing {link}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_committed_with_the_outputs_of_one_full_run(path):
    cells = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), "execute top to bottom on a fresh kernel"
    outputs = [o for c in cells for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = json.dumps(outputs)
    assert "Quick mode (LRP_QUICK=1)" not in text, "committed outputs must come from a full run"
    assert len(text) < 3_000_000, "keep embedded outputs small"


SAVED = "# @save"  # a code cell starting with this line teaches code that lrp_helpers ships verbatim


def _definitions(source):
    """{name: source} of the functions and classes defined at the top level of `source`."""
    return {
        node.name: ast.get_source_segment(source, node)
        for node in ast.parse(source).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def test_saved_cells_are_the_package_code():
    package = {}
    for module in sorted((ROOT / "lrp_helpers").glob("*.py")):
        for name, source in _definitions(module.read_text(encoding="utf-8")).items():
            package.setdefault(name, []).append(source)
    saved = [
        (path.name, name, source)
        for path in NOTEBOOKS
        for cell in _cells(path)
        if cell["cell_type"] == "code" and _source(cell).startswith(SAVED)
        for name, source in _definitions(_source(cell)).items()
    ]
    assert saved, f"no notebook cell starts with {SAVED}"
    for notebook, name, source in saved:
        assert source in package.get(name, []), f"{notebook}: {name} differs from its lrp_helpers version"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_code_a_lesson_shows_on_its_slides_is_tagged_and_short(path):
    """The deck (tools/slides.py) shows the code of `lesson-code` cells only: one to four short ones."""
    tagged = [cell for cell in _cells(path) if "lesson-code" in cell.get("metadata", {}).get("tags", [])]
    assert 1 <= len(tagged) <= 4
    assert all(len(_source(cell).splitlines()) <= 12 for cell in tagged)


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_lessons_talk_about_the_lesson_not_about_ci_or_tests(path):
    assert not CI_OR_TEST_TALK.findall(_prose(path))


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_markdown_math_has_single_backslashes(path):
    r"""`\\gamma` in a markdown cell (a string escape copied into the text) renders as a line break and
    the word "gamma", not as γ."""
    for number, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "markdown":
            doubled = re.findall(r"\\\\[A-Za-z,]\w*", _source(cell))
            assert not doubled, f"cell {number}: {doubled}"


def _exercises(path):
    """The numbered exercises of a notebook's "## Exercises" section."""
    text = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    return re.findall(r"^(\d+)\. ", text[text.index("## Exercises") :], flags=re.MULTILINE)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solutions_answer_every_exercise_and_are_linked(path):
    notebook = ROOT / "notebooks" / path.name.replace("_solutions", "")
    cells = _cells(path)
    assert _source(cells[0]).startswith(f"# Solutions — {path.name[:2]}: "), "title"
    assert "setup_notebook()" in _source(next(c for c in cells if c["cell_type"] == "code")), "setup call first"
    answered = [
        line.removeprefix("## Exercise ")
        for c in cells
        if c["cell_type"] == "markdown"
        for line in _source(c).splitlines()
        if line.startswith("## Exercise ")
    ]
    assert answered == _exercises(notebook)
    exercises = "\n".join(_source(c) for c in _cells(notebook) if "## Exercises" in _source(c))
    assert f"(../solutions/{path.name})" in exercises, f"{notebook.name} does not link its solutions"


def test_every_notebook_ends_with_links_to_its_neighbours_and_the_contents():
    sys.path.insert(0, str(ROOT / "tools"))
    import navigation

    assert navigation.out_of_date() == [], "run: python tools/navigation.py"
    assert "\n## Notebooks\n" in (ROOT / "README.md").read_text(), "the contents anchor #notebooks"
    for path in NOTEBOOKS:
        links = re.findall(r"\]\(([^)#]+)", _source(_cells(path)[-1]))
        assert links, f"{path.name} has no navigation links"
        footers = [
            c for c in _cells(path) if c["cell_type"] == "markdown" and "](../README.md#notebooks)" in _source(c)
        ]
        assert len(footers) == 1, f"{path.name} has {len(footers)} cells of links to the contents, not one"
        for link in links:
            assert (path.parent / link).resolve().is_file(), f"{path.name} links to missing {link}"
    first, last = (_source(_cells(path)[-1]) for path in (NOTEBOOKS[0], NOTEBOOKS[-1]))
    assert "←" not in first and "→" not in last


@pytest.mark.slow
def test_notebook_02_loads_the_committed_model_for_a_lecture(tmp_path, monkeypatch):
    """LRP_RETRAIN=0: notebook 02 trains nothing, plots the committed model's recorded curves and
    leaves the committed models as they are (models/quick/ is left out: other test runs write there)."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "02_training_minivgg.ipynb"
    committed = sorted(file for file in (ROOT / "models").glob("*") if file.is_file())
    stamps = [(file, file.stat().st_mtime_ns) for file in committed]
    monkeypatch.setenv("LRP_RETRAIN", "0")
    monkeypatch.setenv("LRP_IMAGES_DIR", str(tmp_path))
    notebook = nbformat.read(path, as_version=4)
    where = {"metadata": {"path": str(path.parent)}}
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=where).execute()
    text = json.dumps([output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs])
    assert "Loaded models/mini_vgg.h5" in text and "nothing to save" in text
    assert "epochs this run: none" in text
    assert (tmp_path / "training_curves.png").is_file()
    assert sorted(file for file in (ROOT / "models").glob("*") if file.is_file()) == committed
    assert [(file, file.stat().st_mtime_ns) for file in committed] == stamps, "a lecture run must not write models/"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_lessons_are_markdown_and_sizes_sit_in_the_set_up_cell(path):
    """Issue 29: code that only renders sentences is at most 5% of a notebook's code lines (the lesson is
    in markdown, the numbers in `report.table`s and figures), and quick-mode sizes (`settings.pick`) are
    chosen in the set-up cell alone. tools/prose_share.py prints the figures."""
    sys.path.insert(0, str(ROOT / "tools"))
    import prose_share

    share = prose_share.count(path)
    assert share.share <= 0.05, f"{share.prose} of {share.code} code lines render prose"
    assert share.picks == 0, "settings.pick outside the set-up cell"


def test_prose_share_counts_rendered_sentences_and_spares_labels(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    import prose_share

    cells = [
        "settings = setup_notebook()\nIMAGES = settings.pick(full=10, quick=2)",
        'display(\n    Markdown(\n        f"The map of {name} puts most of the relevance on the head."\n    )\n)',
        'print(f"test accuracy: {accuracy:.1%}")',
        'print(f"The network says {label} because the relevance of these pixels is what makes it so.")',
        "x = settings.pick(full=1, quick=0)",
    ]
    notebook = {"cells": [{"cell_type": "code", "source": source} for source in cells]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    share = prose_share.count(path)
    assert (share.code, share.prose, share.picks) == (10, 6, 1)
