"""The recorded benchmark runs (benchmarks/results/) that notebooks and the README quote: complete,
of the recipe they claim, and quoted correctly."""

import json
import re
from dataclasses import asdict

import numpy as np
from conftest import ROOT

RESULTS = ROOT / "benchmarks" / "results"


def _fast_runs():
    return json.loads((RESULTS / "fast_recipe_seeds.json").read_text())["runs"]


def test_the_fast_recipe_was_recorded_with_three_seeds_as_it_is_now():
    from lrp_helpers import models

    def settings(recipe: dict) -> dict:  # what trains the model; a run of a variant carries the variant's name
        return {key: value for key, value in recipe.items() if key not in ("name", "label")}

    runs = _fast_runs()
    assert len({run["seed"] for run in runs}) == len(runs) >= 3
    for run in runs:
        assert settings(run["recipe"]) == settings(asdict(models.FAST_RECIPE)), (
            "re-run benchmarks/training_recipes.py after changing the recipe"
        )
        assert len(run["test_accuracy"]) == len(run["epoch_end_seconds"]) == models.FAST_RECIPE.epochs


def test_the_readme_quotes_the_three_seeds_as_recorded():
    final = np.array([run["test_accuracy"][-1] for run in _fast_runs()])
    quoted = re.search(r"lowest ([\d.]+)%, mean ([\d.]+)%, highest ([\d.]+)%", (ROOT / "README.md").read_text())
    assert quoted, "the README's reproducibility section quotes the fast recipe's seeds"
    assert [float(value) for value in quoted.groups()] == [
        round(100 * value, 2) for value in (final.min(), final.mean(), final.max())
    ]
