"""The recorded benchmark runs (benchmarks/results/) that notebooks and the README quote: complete,
of the recipe they claim, and quoted correctly."""

import json
import re
from dataclasses import asdict

import numpy as np
import pytest
from conftest import ROOT

MEASUREMENTS = ROOT / "docs" / "measurements.md"
VERIFICATION = ROOT / "docs" / "verification.md"
RESULTS = ROOT / "benchmarks" / "results"


def _fast_runs():
    return json.loads((RESULTS / "fast_recipe_seeds.json").read_text())["runs"]


def _settings(recipe: dict) -> dict:
    """What trains the model; a run of a variant carries the variant's name."""
    return {key: value for key, value in recipe.items() if key not in ("name", "label")}


def test_the_fast_recipe_was_recorded_with_three_seeds_as_it_is_now():
    from lrp_helpers import models

    runs = _fast_runs()
    assert len({run["seed"] for run in runs}) == len(runs) >= 3
    for run in runs:
        assert _settings(run["recipe"]) == _settings(asdict(models.FAST_RECIPE)), (
            "re-run benchmarks/training_recipes.py after changing the recipe"
        )
        assert len(run["test_accuracy"]) == len(run["epoch_end_seconds"]) == models.FAST_RECIPE.epochs


def test_the_measurements_quote_the_three_seeds_as_recorded():
    """In the table of measured times and in the section on reproducibility (docs/measurements.md)."""
    final = np.array([run["test_accuracy"][-1] for run in _fast_runs()])
    quoted = re.findall(r"lowest ([\d.]+)%, mean ([\d.]+)%, highest ([\d.]+)%", MEASUREMENTS.read_text())
    assert len(quoted) >= 2, "the table and the reproducibility section quote the fast recipe's seeds"
    recorded = [round(100 * value, 2) for value in (final.min(), final.mean(), final.max())]
    assert all([float(value) for value in quote] == recorded for quote in quoted), (quoted, recorded)


def test_the_spread_notebook_03_shows_comes_from_the_recorded_seeds():
    """benchmarks/results/across_runs.json: the models of the three recorded seeds, nothing else."""
    models = json.loads((RESULTS / "across_runs.json").read_text())["models"]
    fast = {run["seed"]: run for run in _fast_runs()}
    assert sorted(model["metadata"]["seed"] for model in models) == sorted(fast)
    for model in models:
        run = fast[model["metadata"]["seed"]]
        assert _settings(model["metadata"]["recipe"]) == _settings(run["recipe"])
        assert round(model["test_accuracy"], 4) == round(run["test_accuracy"][-1], 4), "the recorded run's model"
        assert set(model["median_pixel_share_by_epsilon"]) == {"0.01", "0.1", "1"}


def test_the_verification_page_quotes_notebook_04_as_committed():
    """docs/verification.md's figures for the rules on the network as trained are notebook 04's table's."""
    from notebook_outputs import table

    rows = table("04_comparing_rules", "conservation")
    shown = tuple(f"{100 * rows[name]['as trained']:.0f}" for name in ("z⁺ (= α1β0 here)", "α2β1"))
    quoted = re.search(r"z⁺ brings a median (\d+)% of the logit.*?α2β1 (\d+)%", VERIFICATION.read_text(), re.S)
    assert quoted, "docs/verification.md quotes z⁺'s and α2β1's median share on the network as trained"
    assert quoted.groups() == shown


def _training_recipes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import training_recipes

    return training_recipes


def test_appending_runs_keeps_the_earlier_ones_and_refuses_another_machine(tmp_path, monkeypatch, capsys):
    recipes = _training_recipes(monkeypatch)
    path = tmp_path / "record.json"
    recipes.record(path, [{"seed": 42}], "2.14.1")
    assert [run["seed"] for run in recipes.record(path, [{"seed": 43}], "2.14.1", append=True)] == [42, 43]
    assert [run["seed"] for run in json.loads(path.read_text())["runs"]] == [42, 43]
    assert [run["seed"] for run in recipes.record(path, [{"seed": 44}], "2.14.1")] == [44], "no append: a new file"
    with pytest.raises(SystemExit, match="not on this machine"):
        recipes.record(path, [{"seed": 45}], "2.20.0", append=True)
    assert [run["seed"] for run in json.loads(path.read_text())["runs"]] == [44]


def test_the_lecture_timings_cover_every_notebook_and_the_measurements_quote_them():
    """benchmarks/lecture.py --record benchmarks/results/lecture.json; docs/measurements.md quotes it."""
    record = json.loads((ROOT / "benchmarks" / "results" / "lecture.json").read_text())
    notebooks = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(record["notebooks"]) == notebooks
    quoted = ", ".join(
        f"{name[:2]}: {timing['seconds']:.0f} s ({timing['first_figure_seconds']:.0f} s)"
        for name, timing in sorted(record["notebooks"].items())
    )
    assert quoted in (ROOT / "docs" / "measurements.md").read_text(), quoted
    seconds = [timing["seconds"] for timing in record["notebooks"].values()]
    first = [timing["first_figure_seconds"] for timing in record["notebooks"].values()]
    assert f"runs in {min(seconds):.0f}–{max(seconds):.0f} s" in (ROOT / "README.md").read_text()
    row = f"| {min(seconds):.0f}–{max(seconds):.0f} s ({min(first):.0f}–{max(first):.0f} s) |"
    assert row in MEASUREMENTS.read_text(), f"the table of measured times quotes the record: {row}"


def test_the_readme_quotes_make_alls_measured_time():
    """Start here's time for `make all` is the measured one in docs/measurements.md's table."""
    quoted = re.search(r"([\d.]+) min", (ROOT / "README.md").read_text().split("make all\n```", 1)[1])
    measured = re.search(r"^\| `make all`[^|]*\| ([\d.]+) min", MEASUREMENTS.read_text(), flags=re.MULTILINE)
    assert quoted and measured and quoted[1] == measured[1], (quoted, measured)
