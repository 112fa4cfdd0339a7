"""Read a committed notebook's outputs, so a test can check the words of its prose against them."""

import json

from conftest import ROOT

from lrp_helpers.report import MIME


def notebook(name: str) -> dict:
    """The committed notebook `name` ("03_lrp_epsilon" or "solutions/03_lrp_epsilon_solutions")."""
    path = ROOT / (name if "/" in name else f"notebooks/{name}")
    return json.loads(path.with_suffix(".ipynb").read_text(encoding="utf-8"))


def tables(name: str) -> dict:
    """{table name: {row: {column: value}}} of every `report.table` in the committed notebook, rows in
    the order shown."""
    found = {}
    for cell in notebook(name)["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME in data:
                assert data[MIME]["name"] not in found, f"two tables named {data[MIME]['name']}"
                rows = data[MIME]["rows"]
                found[data[MIME]["name"]] = {row: rows[row] for row in data[MIME].get("order", rows)}
    return found


def table(name: str, table_name: str) -> dict:
    found = tables(name)
    assert table_name in found, f"{name} shows no table {table_name!r}; it has {sorted(found)}"
    return found[table_name]


def markdown(name: str) -> str:
    """All markdown cells of the committed notebook, joined."""
    return "\n\n".join("".join(c["source"]) for c in notebook(name)["cells"] if c["cell_type"] == "markdown")


def text_outputs(name: str) -> str:
    """Every printed or rendered text output of the committed notebook, joined."""
    parts = []
    for cell in notebook(name)["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append("".join(output["text"]))
            for mime in ("text/markdown", "text/plain"):
                if mime in output.get("data", {}):
                    parts.append("".join(output["data"][mime]))
    return "\n".join(parts)
