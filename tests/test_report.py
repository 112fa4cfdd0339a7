"""report.table: the numbers next to the lesson, readable by the tests that check the prose."""

import numpy as np
import pytest

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


def test_tables_are_read_back_from_a_saved_notebook_in_the_order_shown(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    report.table("first", {"z": {"x": 1}, "a": {"x": 2}})
    report.table("second", {"b": 3})
    rows_sorted_on_save = {"a": {"x": 2}, "z": {"x": 1}}
    saved = {"data": {**shown[0], report.MIME: {**shown[0][report.MIME], "rows": rows_sorted_on_save}}}
    notebook = {
        "cells": [{"cell_type": "code", "outputs": [saved]}, {"cell_type": "code", "outputs": [{"data": shown[1]}]}]
    }
    found = report.tables_in(notebook)
    assert list(found) == ["first", "second"] and list(found["first"]) == ["z", "a"]
    assert found["second"] == {"b": {"value": 3}}
    notebook["cells"].append(notebook["cells"][0])
    with pytest.raises(ValueError, match="two tables named 'first'"):
        report.tables_in(notebook)
