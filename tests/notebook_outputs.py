"""Read a committed notebook's outputs, so a test can check the words of its prose against them."""

import json

from conftest import ROOT

from lrp_helpers.report import tables_in


def notebook(name: str) -> dict:
    """The committed notebook `name` ("03_lrp_epsilon" or "solutions/03_lrp_epsilon_solutions")."""
    path = ROOT / (name if "/" in name else f"notebooks/{name}")
    return json.loads(path.with_suffix(".ipynb").read_text(encoding="utf-8"))


def tables(name: str) -> dict:
    """{table name: {row: {column: value}}} of every `report.table` in the committed notebook, rows in
    the order shown."""
    return tables_in(notebook(name))


def table(name: str, table_name: str) -> dict:
    found = tables(name)
    assert table_name in found, f"{name} shows no table {table_name!r}; it has {sorted(found)}"
    return found[table_name]


ACROSS_RUNS = ROOT / "benchmarks" / "results" / "across_runs.json"
MAKE_ALL_RECORD = ROOT / "benchmarks" / "results" / "make_all_tables.json"
COMMITTED, MAKE_ALL = "committed", "make all"


def _recorded_runs() -> dict:
    """{"seed 42": what `benchmarks/across_runs.py` recorded for the clean model of seed 42, ...,
    "poisoned seed 43": ... for notebook 06's poisoned model of seed 43, ...}"""
    record = json.loads(ACROSS_RUNS.read_text())
    runs = {f"seed {model['metadata']['seed']}": model for model in record["models"]}
    return runs | {f"poisoned seed {model['metadata']['seed']}": model for model in record.get("poisoned", [])}


def recorded_seeds(poisoned: bool = False) -> list[str]:
    """ "seed 42", ... (or "poisoned seed 42", ...): the models whose tables `benchmarks/across_runs.py`
    recomputed and recorded."""
    return [run for run in _recorded_runs() if run.startswith("poisoned") == poisoned]


def recorded_model(run: str) -> dict:
    """What `benchmarks/across_runs.py` recorded for the model of `run` ("seed 42", "poisoned seed 43")."""
    return _recorded_runs()[run]


def run_table(name: str, table_name: str, run: str = COMMITTED) -> dict:
    """Table `table_name` of notebook `name`: as committed (`run` = "committed"), as the recorded `make all`
    run showed it, every model retrained (`run` = "make all", `benchmarks/make_all_tables.py`), or as
    `benchmarks/across_runs.py` recomputed it on the model of a recorded seed (`run` = "seed 42")."""
    if run == COMMITTED:
        return table(name, table_name)
    if run == MAKE_ALL:
        recorded = json.loads(MAKE_ALL_RECORD.read_text())["tables"].get(name, {})
        assert table_name in recorded, f"{MAKE_ALL_RECORD.name} has no table {table_name!r} of {name}"
        return recorded[table_name]
    recorded = recorded_model(run).get("tables", {}).get(name, {})
    assert table_name in recorded, (
        f"{ACROSS_RUNS.name} has no table {table_name!r} of {name} for {run}: run benchmarks/across_runs.py again"
    )
    return recorded[table_name]


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
