"""Notebook 02 and its solutions: the words of the prose against the committed outputs."""

import re

from notebook_outputs import markdown, table

from lrp_helpers import models

NB = "02_training_minivgg"
SOLUTIONS = "solutions/02_training_minivgg_solutions"
ANIMALS = {"bird", "cat", "deer", "dog", "frog", "horse"}


def test_the_layer_table_adds_up_to_the_parameters_the_summary_states():
    layers = dict(table(NB, "layers"))
    total = layers.pop("total")["parameters"]
    assert sum(row["parameters"] for row in layers.values()) == total == models.MINI_VGG_PARAMETERS
    assert f"{total:,} parameters" in markdown(NB)


def test_each_convolution_is_followed_by_relu_and_then_batchnorm():
    layers = table(NB, "layers")  # rows come back sorted by name: the order is the model's
    order = [layer.name for layer in models.mini_vgg().layers]
    assert sorted(order) == sorted(name for name in layers if name != "total")
    types = [layers[name]["type"] for name in order]
    convolutions = [i for i, kind in enumerate(types) if kind == "Conv2D"]
    assert len(convolutions) == 4
    assert all(types[i + 1 : i + 3] == ["Activation", "BatchNormalization"] for i in convolutions)


def test_best_epoch_is_an_epoch_and_fast_runs_beat_the_original_run():
    runs = table(NB, "recorded_runs")
    fast = [row for name, row in runs.items() if name.startswith("fast")]
    (original,) = [row for name, row in runs.items() if name.startswith("original")]
    for row in [*fast, original]:
        assert isinstance(row["best epoch"], int) and 1 <= row["best epoch"] <= row["epochs"]
        assert row["test accuracy, best epoch"] >= row["test accuracy, last epoch"]
    # "more accurate than the original recipe's one run, in under a third of the time"
    assert min(row["test accuracy, last epoch"] for row in fast) > original["test accuracy, last epoch"]
    assert all(3 * row["epochs"] < original["epochs"] for row in fast)
    # "at its best in its last epoch"; the original run "peaked well before its last epoch and fell back"
    assert all(row["best epoch"] == row["epochs"] for row in fast)
    assert original["best epoch"] <= 0.8 * original["epochs"]
    assert original["test accuracy, best epoch"] > original["test accuracy, last epoch"]


def test_the_fast_seeds_end_within_a_point():
    spread = table(NB, "fast_spread")
    assert len(table(NB, "recorded_runs")) - 1 >= 3
    assert 0 < spread["highest − lowest"]["value"] < 0.01
    assert spread["lowest"]["value"] <= spread["mean"]["value"] <= spread["highest"]["value"]


def test_the_committed_model_fits_its_training_images_better_but_does_not_overfit():
    fit = {row: values["value"] for row, values in table(NB, "fit").items()}
    assert fit["training accuracy, last epoch"] > fit["test accuracy, last epoch"]
    assert fit["best epoch"] == fit["last epoch"]


def test_the_most_frequent_confusions_are_animals_cats_and_dogs_above_all():
    confusions = table(NB, "confusions")
    pairs = [tuple(name.split(" → ")) for name in sorted(confusions, key=lambda name: -confusions[name]["images"])]
    assert all(true in ANIMALS and predicted in ANIMALS for true, predicted in pairs)
    assert set(pairs[0] + pairs[1]) == {"cat", "dog"}


def test_no_project_history_and_seed_means_a_random_seed():
    for name in (NB, SOLUTIONS):
        text = markdown(name)
        assert not re.search(r"seed (project|model|recipe)|\bthe seed\b(?! of)|first found|\bCI\b|nbval", text), name


def test_solution_1_most_confident_mistakes_stay_within_their_kind():
    mistakes = {row: values["value"] for row, values in table(SOLUTIONS, "confident_mistakes").items()}
    within = next(value for row, value in mistakes.items() if row.startswith("within their kind"))
    assert within > mistakes["mistakes shown"] / 2  # "most"
    assert mistakes["lowest probability among them"] > 0.5  # "more than half of its probability"


def _gaps():
    gaps = table(SOLUTIONS, "gaps")
    (original,) = [row for name, row in gaps.items() if name.startswith("original recipe, ") and "here" in name]
    (fast,) = [row for name, row in gaps.items() if name.startswith("fast recipe, ")]
    (recorded,) = [row for name, row in gaps.items() if "recorded" in name]
    return original, fast, recorded


def test_solution_2_the_gap_opens_early_under_both_and_the_original_recipe_memorises():
    original, fast, recorded = _gaps()
    for run in (original, fast):
        assert run["gap above 2 points from epoch"] != "never" and run["gap above 2 points from epoch"] <= 5
        assert run["training − test, last epoch"] > 0.1  # "more than ten points"
    assert fast["test accuracy, last epoch"] > original["test accuracy, last epoch"]  # "the fast recipe ends higher"
    # "levels off while its training accuracy keeps climbing"
    assert original["training accuracy gained, last 4 epochs"] > 3 * max(
        original["test accuracy gained, last 4 epochs"], 0
    )
    assert recorded["best test epoch"] < 0.8 * 40 and recorded["training − test, last epoch"] > 0.1


def test_solution_3_shifts_change_test_accuracy_less_than_the_seed_spread_but_training_accuracy_a_lot():
    shifts = table(SOLUTIONS, "shifts")
    plain, shifted = shifts["fast"], shifts["fast + shifts"]
    seed_spread = table(NB, "fast_spread")["highest − lowest"]["value"]
    assert abs(shifted["test accuracy, last epoch"] - plain["test accuracy, last epoch"]) < min(0.01, seed_spread)
    assert shifted["training accuracy, last epoch"] <= shifted["test accuracy, last epoch"]  # "no higher than"
    assert plain["training accuracy, last epoch"] - plain["test accuracy, last epoch"] > 0.1  # "far above"


def test_solution_4_batchnorm_ends_ahead_but_starts_near_chance_on_the_test_set():
    batchnorm = table(SOLUTIONS, "batchnorm")
    with_bn, without = batchnorm["with BatchNorm"], batchnorm["without"]
    seed_spread = table(NB, "fast_spread")["highest − lowest"]["value"]
    assert with_bn["test accuracy, last epoch"] - without["test accuracy, last epoch"] > 3 * seed_spread
    assert isinstance(with_bn["ahead for good from epoch"], int) and with_bn["ahead for good from epoch"] > 1
    assert without["test accuracy, epoch 1"] > with_bn["test accuracy, epoch 1"]
    assert (
        with_bn["test accuracy, epoch 1"] < 0.15 < 0.3 < with_bn["training accuracy, epoch 1"]
    )  # near chance vs far above


def test_solution_2_the_fast_recipe_climbs_fastest_at_the_end():
    original, fast, _ = _gaps()
    assert fast["training accuracy gained, last 4 epochs"] > original["training accuracy gained, last 4 epochs"]
    assert 0 < fast["test accuracy gained, last 4 epochs"] < fast["training accuracy gained, last 4 epochs"]


def test_solution_5_the_choice_of_epoch_matters_but_validation_and_test_agree():
    selection = table(SOLUTIONS, "model_selection")
    chosen, peeked, last = (selection[row] for row in ("chosen by validation", "chosen by test", "last epoch"))
    standard_error = selection["standard error of one test accuracy"]["test accuracy"]
    assert chosen["test accuracy"] - last["test accuracy"] > 5 * standard_error  # "several points", "many times"
    assert chosen["test accuracy"] - last["test accuracy"] > 0.02
    assert chosen["epoch"] == peeked["epoch"] and peeked["test accuracy"] == chosen["test accuracy"]  # "zero here"
