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


RECOMPUTED = ("04_comparing_rules", "05_evaluating_explanations", "06_clever_hans")


def _same_table(recomputed: dict, shown: dict, name: str):
    """Every recomputed value equals the committed notebook's, to 1e-6 of the value or to 1e-7 (a share of the
    logit near 1 differs in its 8th digit between two float32 canonizations)."""
    for row, cells in recomputed.items():
        for column, value in cells.items():
            expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-6, abs=1e-7)
            assert shown[row][column] == expected, (name, row, column)


def test_across_runs_recomputes_the_notebooks_tables_as_they_compute_them():
    """benchmarks/across_runs.py repeats the notebooks' own computations: every table it records has rows and
    columns the notebook shows, for the seeds as for the committed model; on the committed model and the
    notebooks' own images (notebook 04; notebook 06's accuracies) it gets the committed values."""
    from notebook_outputs import tables

    record = json.loads((RESULTS / "across_runs.json").read_text())
    committed = record["committed"]
    assert committed["model"] == "mini_vgg.h5"
    for name in RECOMPUTED:
        shown = tables(name)
        for table_name, rows in committed["tables"][name].items():
            assert all(set(cells) <= set(shown[table_name][row]) for row, cells in rows.items()), (name, table_name)
        for model in record["models"]:
            assert model["tables"][name].keys() == committed["tables"][name].keys(), model["model"]
    same_images = [("04_comparing_rules", name) for name in committed["tables"]["04_comparing_rules"]]
    for name, table_name in [*same_images, ("06_clever_hans", "behaviour")]:
        _same_table(committed["tables"][name][table_name], tables(name)[table_name], table_name)


def test_across_runs_recomputes_notebook_06s_poisoned_tables_as_it_computes_them():
    """On notebook 06's committed poisoned model and its images, the committed values of its behaviour and of
    SpRAy; the poisoned seeds' tables have the same rows and columns."""
    from notebook_outputs import tables

    record = json.loads((RESULTS / "across_runs.json").read_text())
    poisoned, committed = record["poisoned"], record["committed_poisoned"]
    assert committed["model"] == "mini_vgg_poisoned.h5"
    shown = tables("06_clever_hans")
    for table_name in ("behaviour", "spectrum", "spray_rules", "spray_clusters"):
        _same_table(committed["tables"]["06_clever_hans"][table_name], shown[table_name], table_name)
    for model in poisoned:
        recorded = model["tables"]["06_clever_hans"]
        assert all(set(cells) <= set(shown["patch_mass"][row]) for row, cells in recorded["patch_mass"].items())
        assert recorded.keys() == committed["tables"]["06_clever_hans"].keys(), model["model"]


def test_the_readme_quotes_the_transformer_atlas_and_lecture_benchmarks_as_recorded():
    """AttnLRP against a plain gradient on the committed transformer (issue 30), the concept atlas's time
    (issue 31) and the lecture timings of every notebook, as the README states them."""
    readme = (ROOT / "README.md").read_text()
    speed = json.loads((RESULTS / "transformer_speed.json").read_text())
    assert speed["model"] == "models/text_transformer.h5", "measure the committed model"
    assert f"AttnLRP costs {speed['ratios']['attnlrp / gradient']:.2f}× a plain" in readme.replace("\n", " ")
    atlas = json.loads((RESULTS / "concept_atlas.json").read_text())
    assert atlas["images"] == 10_000 and f"takes {atlas['seconds']['total']:.0f} s" in readme.replace("\n", " ")
    lecture = json.loads((RESULTS / "lecture.json").read_text())["notebooks"]
    notebooks = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(lecture) == notebooks, "benchmarks/lecture.py --record: every notebook"
    seconds = [timing["seconds"] for timing in lecture.values()]
    assert f"runs in {min(seconds):.0f}–{max(seconds):.0f} s" in readme.replace("\n", " ")
