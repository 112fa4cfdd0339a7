"""Notebook 03's and its solutions' words against their committed outputs: each run-dependent sentence of the
prose has a test here that reads the table it rests on (`report.table` in the notebook). Where the prose
speaks of models trained from other random seeds, the test also reads the recorded runs
(benchmarks/results/across_runs.json)."""

import json

import pytest
from conftest import ROOT
from notebook_outputs import COMMITTED, MAKE_ALL, markdown, run_table, table, text_outputs

NOTEBOOK = "03_lrp_epsilon"
SOLUTIONS = "solutions/03_lrp_epsilon_solutions"
EPSILONS = ["0.01", "0.1", "1"]


# --- Sections 1–3: the maps are computed correctly -------------------------------------------------


def test_the_heatmaps_agree_with_the_reference():
    assert "agreement at every layer, within 1e-4: True" in text_outputs(NOTEBOOK)
    maps = table(NOTEBOOK, "stock_maps")
    assert maps["corrected"]["largest error, share of max relevance"] < 1e-4
    assert maps["corrected"]["correlation with the reference"] > 0.999


# --- Section 5: one image, every class -------------------------------------------------------------


@pytest.mark.parametrize("run", [COMMITTED, MAKE_ALL])
def test_the_predicted_logit_is_by_far_the_largest_and_most_others_are_negative(run):
    """ "The predicted class's logit is by far the largest, and most other classes have a negative one"."""
    logits = sorted((row["logit"] for row in run_table(NOTEBOOK, "every_class", run).values()), reverse=True)
    predicted, others = logits[0], logits[1:]
    assert predicted > 0 and predicted > 3 * max(others[0], 0)
    assert sum(logit < 0 for logit in others) > len(others) / 2


def test_pixel_sums_follow_the_logits_only_loosely():
    """ "The ten maps hardly agree pixel by pixel"; the pixel sums "follow the logits' order only loosely and
    miss their sign for several classes"."""
    rows = table(NOTEBOOK, "every_class_agreement")
    value = {name: row["value"] for name, row in rows.items()}
    assert abs(value["pairwise correlation of the ten maps (median)"]) < 0.2
    assert value["rank correlation of the pixel sums with the logits"] < 0.5
    assert value["classes whose pixel sum has the logit's sign"] <= 10 - 2
    assert "holds evidence for them" not in markdown(NOTEBOOK)


# --- Section 6: where the relevance goes -----------------------------------------------------------


def _recorded_runs():
    return json.loads((ROOT / "benchmarks/results/across_runs.json").read_text())["models"]


def _small_and_shrinking(shares):
    assert all(share < 0.25 for share in shares), shares
    assert all(larger > smaller for larger, smaller in zip(shares, shares[1:])), shares


def test_a_small_part_reaches_the_pixels_and_less_as_epsilon_grows():
    """ "Only a small part of the logit reaches the pixels, and less as ε grows" — for this model and, "the
    same picture", for the models of the recorded seeds."""
    rows = table(NOTEBOOK, "pixel_share")
    _small_and_shrinking([rows[f"ε = {eps}"]["this model"] for eps in EPSILONS])
    runs = _recorded_runs()
    assert len(runs) >= 3
    for run in runs:
        recorded = [run["median_pixel_share_by_epsilon"][eps] for eps in EPSILONS]
        _small_and_shrinking(recorded)
        shown = [rows[f"ε = {eps}"][f"seed {run['metadata']['seed']}"] for eps in EPSILONS]
        assert shown == pytest.approx(recorded)


def test_the_batchnorm_layers_absorb_where_the_relu_below_was_off():
    """ "The bar chart shows where the rest goes: into the BatchNorm layers"; "the shifts tend to be negative";
    "In most layers most shifts are negative and most positions are off, and nearly all of the absorption
    happens where the ReLU below was off; where it was on, the shifts absorb little or inject"."""
    rows = table(NOTEBOOK, "batchnorm_absorption")
    assert sum(row["shifts < 0"] > 0.5 for row in rows.values()) > len(rows) / 2
    assert sum(row["ReLU off"] > 0.5 for row in rows.values()) > len(rows) / 2
    where_off = sum(row["absorbed where off"] for row in rows.values())
    where_on = sum(row["absorbed where on"] for row in rows.values())
    assert where_off + where_on > 0.5
    assert where_off > 0.5 and abs(where_on) < 0.1 * where_off
    assert all(row["absorbed where on"] < 0.1 for row in rows.values())


def test_canonization_moves_the_absorption_between_layers():
    """ "The layer that absorbs most absorbs more, and the layer that injects injects more"."""
    rows = table(NOTEBOOK, "absorbed_by_layer")
    as_trained = {name: row["as trained"] for name, row in rows.items()}
    canonized = {name: row["canonized"] for name, row in rows.items()}
    most = max(as_trained, key=as_trained.get)
    assert max(canonized, key=canonized.get) == most and canonized[most] > as_trained[most]
    least = min(as_trained, key=as_trained.get)
    assert as_trained[least] < 0
    assert min(canonized, key=canonized.get) == least and canonized[least] < as_trained[least]


def test_bias_free_lrp0_conserves_and_bias_free_epsilon_does_not():
    """ "bias-free LRP-0 conserves exactly"; without the bias ε's "net total at the pixels lands far from" the
    logit, "in either direction"."""
    rows = table(NOTEBOOK, "canonized_conservation")
    lrp0 = rows["LRP-0, without bias"]
    assert lrp0["lowest"] == pytest.approx(1, abs=1e-5) and lrp0["highest"] == pytest.approx(1, abs=1e-5)
    epsilon = rows["ε = 0.1, without bias"]
    assert epsilon["images more than 50% off"] > 0.5
    assert epsilon["lowest"] < 0 and epsilon["highest"] > 2
    assert rows["ε = 0.1, with bias"]["median"] < 0.25


def test_bias_free_epsilon_damps_every_neuron_while_the_relevance_grows_large():
    """ "every fraction is below 1, yet the absolute relevance at the lower layers is hundreds of times the
    logit"."""
    rows = table(NOTEBOOK, "bias_free_by_layer")
    fractions = [row["largest fraction passed on"] for row in rows.values() if "largest fraction passed on" in row]
    assert fractions and all(0 <= fraction < 1 for fraction in fractions)
    assert max(row["absolute sum / logit (median)"] for row in rows.values()) >= 100
    assert rows["logits"]["absolute sum / logit (median)"] < 10


# --- Section 7: iNNvestigate's BatchNorm handling ---------------------------------------------------


def test_the_stock_surrogate_is_wrong_and_the_maps_inherit_it():
    """ "gets the scale of every BatchNorm wrong ..., some by more than twice the true scale"; "the stock maps
    are off by about the size of the largest relevance and correlate only weakly with the correct ones"."""
    scale_errors = [row["scale off by up to"] for row in table(NOTEBOOK, "stock_surrogate").values()]
    assert min(scale_errors) > 0.1 and max(scale_errors) > 1
    stock = table(NOTEBOOK, "stock_maps")["stock"]
    assert stock["largest error, share of max relevance"] > 0.5
    assert stock["correlation with the reference"] < 0.5


def test_no_project_machinery_in_the_lesson():
    for name in (NOTEBOOK, SOLUTIONS):
        text = markdown(name)
        for word in ("CI", "nbval", "test suite", "the tests check"):
            assert f" {word} " not in f" {text} ", (name, word)


# --- Solutions -------------------------------------------------------------------------------------


def _values(table_name):
    return {name: row["value"] for name, row in table(SOLUTIONS, table_name).items()}


def test_solution_1_the_dark_object_gets_little_relevance():
    """ "a black cat on grass, which the network calls a bird"; "the nearly black pixels cover a sizeable part of
    the image and receive a far smaller part of the relevance"."""
    value = _values("exercise_1")
    assert (value["true class"], value["predicted class"]) == ("cat", "bird")
    assert value["positive relevance outside the centre"] > value["the same, median over the images"]
    area, relevance = (
        value["nearly black pixels: share of the area"],
        value["nearly black pixels: share of the absolute relevance"],
    )
    assert area > 0.25 and relevance < area / 2


def test_solution_2_the_dog_map_turns_the_cat_map_around():
    """ "the dog logit is negative"; "The two maps are negatively correlated"; "dog is the network's most
    frequent mistake for a cat"."""
    value = _values("exercise_2")
    assert value["dog logit"] < 0 < value["cat logit"]
    assert value["cat map vs dog map, correlation at ε = 0.1"] < 0
    assert value["cat map vs dog map, correlation at ε = 1"] < 0
    assert value["most frequent mistake for a cat"] == "dog"


def test_solution_3_the_share_falls_without_a_cliff():
    """ "no sharp drop"; "where the steepest step begins, about half of them lie below ε"."""
    rows = table(SOLUTIONS, "exercise_3")
    shares = [row["median share at the pixels"] for row in rows.values() if "median share at the pixels" in row]
    assert shares == sorted(shares, reverse=True)
    assert shares[0] > 100 * shares[-1]
    names = list(rows)
    steepest = next(index for index, name in enumerate(names) if "steepest" in name)
    assert 0.3 < rows[names[steepest]]["neurons below ε"] < 0.7
    step = rows[names[steepest + 1]]["median share at the pixels"] / rows[names[steepest]]["median share at the pixels"]
    assert step > 0.1  # even the steepest step keeps more than a tenth: no cliff


def test_solution_4_the_contrastive_map_is_close_to_but_not_the_map_of_the_difference():
    """ "exactly LRP-ε started from (z_c, −z_c′) (linear in R: True)"; explaining z_c − z_c′ as one output "gives
    a closely related but not identical map"."""
    assert "linear in R: True" in text_outputs(SOLUTIONS)
    rows = table(SOLUTIONS, "exercise_4").values()
    assert all(row["correlation"] > 0.5 for row in rows)
    assert max(row["largest difference, share of max relevance"] for row in rows) > 1e-3


def test_solution_5_the_agreement_holds_for_the_true_class():
    assert "agreement at every layer, within 1e-4: True" in text_outputs(SOLUTIONS)
