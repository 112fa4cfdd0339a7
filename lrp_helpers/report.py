"""Numbers next to the lesson: one compact table per result, rendered from the run.

    report.table("absorption", {"LRP-0": {"pixels": 0.41, "absorbed": 0.59}, ...}, percent=True)

The markdown cells around it say what to take away in words that hold across training runs; the table
shows this run's numbers. The values travel in the output as well (`MIME`), so a test can read a
committed notebook's table and check the words against it (`tests/notebook_outputs.py`).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

MIME = "application/vnd.lrp-table+json"


def _cell(value, percent: bool, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value).replace("|", "\\|")
    if isinstance(value, Integral):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{max(digits - 2, 0)}%}" if percent else f"{value:.{digits}g}"


def _plain(value):
    """A JSON value: numpy scalars become Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def markdown(rows: dict, percent: bool = False, digits: int = 3, index: str = "") -> str:
    """`rows` ({row: {column: value}}) as a markdown table; numbers to `digits` significant digits, or
    as percentages with `digits - 2` decimals."""
    columns = list(dict.fromkeys(column for values in rows.values() for column in values))
    lines = [
        "| " + " | ".join(_cell(header, percent, digits) for header in [index, *columns]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for row, values in rows.items():
        cells = [_cell(values[column], percent, digits) if column in values else "" for column in columns]
        lines.append("| " + " | ".join([f"**{_cell(row, percent, digits)}**", *cells]) + " |")
    return "\n".join(lines)


def table(name: str, rows: dict, caption: str = "", percent: bool = False, digits: int = 3, index: str = ""):
    """Display `rows` ({row: {column: value}}, or {row: value} for one column named by `index`) as a
    table, with `caption` above it; `name` identifies it for the tests that check the prose."""
    from IPython.display import display

    if rows and not all(isinstance(values, dict) for values in rows.values()):
        rows = {row: {"value": values} for row, values in rows.items()}
    text = markdown(rows, percent, digits, index)
    if caption:
        text = f"{caption}\n\n{text}"
    values = {str(row): {str(column): _plain(value) for column, value in cells.items()} for row, cells in rows.items()}
    # a saved notebook may sort the keys of `rows`: "order" keeps the rows' order
    data = {"name": name, "rows": values, "order": list(values)}
    display({"text/markdown": text, "text/plain": text, MIME: data}, raw=True)


def tables_in(notebook: dict) -> dict:
    """{table name: {row: {column: value}}} of every `table` shown in a saved notebook (its JSON, as
    read by `json.load`), rows in the order shown."""
    found = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                if data[MIME]["name"] in found:
                    raise ValueError(f"two tables named {data[MIME]['name']!r}")
                rows = data[MIME]["rows"]
                found[data[MIME]["name"]] = {row: rows[row] for row in data[MIME].get("order", rows)}
    return found
