"""tools/clean_outputs.py drops exactly the progress bars a run leaves behind, and the committed
notebooks have none, nor any warning on stderr."""

import sys

import nbformat
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import clean_outputs  # noqa: E402

COMMITTED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def _widget(text):
    return nbformat.v4.new_output(
        "display_data", data={clean_outputs.WIDGET: {"model_id": "abc", "version_major": 2}, "text/plain": text}
    )


def _notebook():
    keep = [
        nbformat.v4.new_output("stream", name="stdout", text="accuracy 0.83 [00:00 is not a bar on stdout]\n"),
        _widget("VBox(children=(Dropdown(description='class'),))"),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something\n"),
    ]
    bars = [
        _widget("checking rules:   0%|          | 0/10 [00:00<?, ?it/s]"),
        _widget("0epoch [00:00, ?epoch/s]"),
        nbformat.v4.new_output("stream", name="stderr", text="\rexplaining:  50%|#   | 1/2 [00:01<00:01, 1.0it/s]\n"),
    ]
    cells = [nbformat.v4.new_code_cell("run()", outputs=keep + bars), nbformat.v4.new_markdown_cell("text")]
    widget_state = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nbformat.v4.new_notebook(cells=cells, metadata={"widgets": widget_state}), keep


def test_clean_drops_the_bars_and_keeps_everything_else(tmp_path, monkeypatch):
    notebook, keep = _notebook()
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)
    assert clean_outputs.progress_bars(nbformat.read(path, as_version=4)) == [0]
    monkeypatch.setattr(sys, "argv", ["clean_outputs.py", "--check", str(path)])
    assert clean_outputs.main() == 1
    assert clean_outputs.clean(path) == 1
    cleaned = nbformat.read(path, as_version=4)
    assert cleaned.cells[0].outputs == keep
    assert "widgets" in cleaned.metadata, "a widget is still shown: its state stays"
    assert clean_outputs.main() == 0
    assert clean_outputs.clean(path) == 0
    cleaned.cells[0].outputs = [output for output in keep if clean_outputs.WIDGET not in output.get("data", {})]
    nbformat.write(cleaned, path)
    assert clean_outputs.main() == 1, "widget state without a widget needs cleaning"
    clean_outputs.clean(path)
    assert "widgets" not in nbformat.read(path, as_version=4).metadata
    assert clean_outputs.main() == 0


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_outputs_show_no_progress_bar_and_no_warning(path):
    notebook = nbformat.read(path, as_version=4)
    assert clean_outputs.progress_bars(notebook) == [], f"run: python tools/clean_outputs.py {path}"
    assert not clean_outputs.orphan_widget_state(notebook), f"run: python tools/clean_outputs.py {path}"
    stderr = [
        (index, output.text[:200])
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    ]
    assert stderr == [], "a warning in the committed outputs: fix its cause"
