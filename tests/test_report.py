"""report.table: the numbers next to the lesson, readable by the tests that check the prose."""

import numpy as np

from lrp_helpers import report


def test_markdown_formats_numbers_and_keeps_row_order():
    text = report.markdown({"z⁺": {"share": 0.4567, "n": 1200}, "ε": {"share": np.float32(0.05)}}, percent=True)
    lines = text.splitlines()
    assert lines[0] == "|  | share | n |"
    assert lines[2] == "| **z⁺** | 45.7% | 1,200 |"
    assert lines[3] == "| **ε** | 5.0% |  |"


def test_table_carries_its_values_for_the_tests(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    report.table("spread", {"a": 1.23456, "b": np.float64(2.0)}, caption="**Spread**", index="model")
    bundle = shown[0]
    rows = {"a": {"value": 1.23456}, "b": {"value": 2.0}}
    assert bundle[report.MIME] == {"name": "spread", "rows": rows, "order": ["a", "b"]}
    assert bundle["text/markdown"].startswith("**Spread**\n\n| model | value |")
    assert "| **a** | 1.23 |" in bundle["text/markdown"]


def test_a_bar_in_a_cell_does_not_split_the_column():
    text = report.markdown({"sensitivity (|gradient|)": {"n / max |n|": 1}})
    assert text.splitlines()[0] == "|  | n / max \\|n\\| |"
    assert "| **sensitivity (\\|gradient\\|)** | 1 |" in text
