"""Notebook 05's and its solutions' words against their committed outputs: each run-dependent sentence of
the prose has a test here that reads the table it rests on (`report.table` in the notebook). Where the sentence
depends on the trained model, the test also reads the same table as `benchmarks/across_runs.py` recomputed it
on the model of each recorded seed (benchmarks/results/across_runs.json), so the words hold across runs."""

import math
import re

import pytest
from notebook_outputs import COMMITTED, markdown, recorded_model, recorded_seeds, run_table, table, text_outputs

NOTEBOOK = "05_evaluating_explanations"
SOLUTIONS = "solutions/05_evaluating_explanations_solutions"
EPSILON, DEPTH, ZPLUS, ZPLUS_RAW = "LRP-ε (ε = 0.1)", "LRP composite", "LRP z⁺", "LRP z⁺, as trained"
CONV_AB = "LRP αβ-conv composite (α = 1, β = 0)"
SENSITIVITY, INPUT_X_GRADIENT, RANDOM, EDGES = (
    "sensitivity (|gradient|)",
    "input × gradient",
    "random",
    "edges (no network)",
)
SIGNED = [EPSILON, DEPTH, CONV_AB, INPUT_X_GRADIENT]
NON_NEGATIVE = [ZPLUS, ZPLUS_RAW, SENSITIVITY, RANDOM, EDGES]
MEAN, NOISE, ROAD = "mean colour", "uniform noise", "ROAD imputation"
MANY = 3  # "by many standard errors", on the notebook's images
CLEARLY = 2  # "Beyond about two, the difference is unlikely to be chance"
RUNS = [COMMITTED, *recorded_seeds()]
every_run = pytest.mark.parametrize("run", RUNS)


def ranked(replacement, run=COMMITTED):
    rows = run_table(NOTEBOOK, "abpc", run)
    return sorted(rows, key=lambda name: -rows[name][replacement])


def images(run):
    """The number of test images `run`'s region perturbation used."""
    if run == COMMITTED:
        return int(re.search(r"(\d+) test images; canonized", text_outputs(NOTEBOOK)).group(1))
    return recorded_model(run)["images"][NOTEBOOK]


def many(run):
    """ "By many standard errors" on `run`'s images: a paired difference in standard errors grows with the
    square root of the number of images, so a seed's fewer images are held to MANY scaled down from the
    notebook's to theirs, and never to less than CLEARLY."""
    return max(CLEARLY, MANY * math.sqrt(images(run) / images(COMMITTED)))


# --- Canonization and conservation ------------------------------------------------------------------


def test_canonization_keeps_the_logits():
    assert "canonized vs original logits, largest difference" in text_outputs(NOTEBOOK)
    difference = float(text_outputs(NOTEBOOK).split("largest difference: ")[1].split()[0])
    assert difference < 1e-4


@every_run
def test_z_plus_conserves_on_the_canonized_network_and_not_as_trained(run):
    """ "z⁺ hands the whole explained logit to the pixels on almost every image"; "as trained ... only a
    small part"; "LRP-ε and Montavon et al.'s composite ... deliver little"; "the αβ-conv composite ...
    more of the logit arrives"."""
    rows = run_table(NOTEBOOK, "arrived", run)
    assert abs(rows[ZPLUS]["median"] - 1) < 1e-3
    assert rows[ZPLUS]["images within 0.1%"] > 0.9
    assert rows[ZPLUS_RAW]["median"] < 0.5
    assert rows[EPSILON]["median"] < 0.25 and rows[DEPTH]["median"] < 0.25
    assert rows[CONV_AB]["median"] > max(rows[EPSILON]["median"], rows[DEPTH]["median"])


@every_run
def test_z_plus_as_trained_loses_the_logit_at_the_batchnorm_layers(run):
    """ "All of it is lost at the BatchNorm layers" (elsewhere less than 1e-4 of the logit, as notebook 04's test
    of the same sentence has it: neurons active through a positive bias alone); the summary: "loses most of the
    logit"."""
    rows = run_table(NOTEBOOK, "z_plus_lost", run)
    assert rows["at the BatchNorm layers"]["value"] > 0.5
    assert abs(rows["at all other layers"]["value"]) < 1e-4


def test_the_markdown_says_what_canonization_does_not_restore():
    text = " ".join(markdown(NOTEBOOK).split())
    assert "bias ≤ 0" in text and "notebook 04" in text
    assert "not as a deep Taylor decomposition" in text


# --- Region perturbation ----------------------------------------------------------------------------


@every_run
def test_under_road_every_method_beats_random_and_the_composites_lead(run):
    """ "puts every method above random by many standard errors; the αβ-conv composite and Montavon et al.'s
    composite lead, ahead of z⁺" (canonized or as trained: the two score alike)."""
    versus = run_table(NOTEBOOK, "abpc_vs_random", run)
    assert all(versus[name][ROAD] > many(run) for name in versus)
    assert set(ranked(ROAD, run)[:2]) == {CONV_AB, DEPTH}
    assert ranked(ROAD, run)[2] in (ZPLUS, ZPLUS_RAW)


@every_run
def test_mean_colour_ranks_the_conv_composite_then_z_plus_ahead_of_montavons_composite(run):
    """ "the αβ-conv composite leads, then z⁺ (canonized or not), ahead of Montavon et al.'s composite; LRP-ε
    and input × gradient score far below z⁺, less than half its ABPC"."""
    order = ranked(MEAN, run)
    assert order[0] == CONV_AB
    assert set(order[1:3]) == {ZPLUS, ZPLUS_RAW}
    assert order.index(DEPTH) > 2
    rows = run_table(NOTEBOOK, "abpc", run)
    assert rows[EPSILON][MEAN] < 0.5 * rows[ZPLUS][MEAN]
    assert rows[INPUT_X_GRADIENT][MEAN] < 0.5 * rows[ZPLUS][MEAN]


@every_run
def test_uniform_noise_puts_montavons_composite_below_random(run):
    """ "below random, by many standard errors: its most relevant regions cost less than random ones, its
    least relevant ones more"; the summary: the αβ-conv composite and z⁺ stay above random."""
    versus = run_table(NOTEBOOK, "abpc_vs_random", run)
    assert versus[DEPTH][NOISE] < -many(run)
    aopc = run_table(NOTEBOOK, "aopc", run)
    assert aopc[DEPTH][f"MoRF, {NOISE}"] < aopc[RANDOM][f"MoRF, {NOISE}"]
    assert aopc[DEPTH][f"LeRF, {NOISE}"] > aopc[RANDOM][f"LeRF, {NOISE}"]
    assert versus[CONV_AB][NOISE] > many(run) and versus[ZPLUS][NOISE] > many(run)


@every_run
def test_signed_maps_lerf_rises_above_the_start_and_non_negative_ones_barely(run):
    rows = run_table(NOTEBOOK, "lerf_rise", run)
    assert {name for name, row in rows.items() if row["kind"] == "signed"} == set(SIGNED)
    assert rows[DEPTH][ROAD] > 0.1 and rows[CONV_AB][ROAD] > 0.1
    highest_non_negative = max(rows[name][r] for name in NON_NEGATIVE for r in (MEAN, NOISE, ROAD))
    assert highest_non_negative < rows[DEPTH][ROAD] / 3


@every_run
def test_ranking_within_kind_is_shown_for_every_replacement(run):
    rows = run_table(NOTEBOOK, "ranked_within_kind", run)
    assert len(rows) == 6
    assert rows[f"signed, {ROAD}"]["best to worst by ABPC"].split(" > ")[0] == CONV_AB


@every_run
def test_noise_effect_follows_the_sign_of_the_composite(run):
    """The prediction and "The table bears the prediction out": the extra drop under noise falls as
    relevance rises, most for the composite, weakly for LRP-ε and input × gradient, not for the non-negative
    maps; the composite loses the most ABPC to noise; "Every other map's ABPC moves less with the noise than the
    composite's"."""
    rows = run_table(NOTEBOOK, "noise_extra", run)
    correlation = "rank correlation: relevance vs the noise's extra drop"
    loss = "ABPC with noise − ABPC with mean colour"
    assert min(rows, key=lambda name: rows[name][correlation]) == DEPTH
    assert rows[DEPTH][correlation] < -0.1
    assert -0.1 < rows[EPSILON][correlation] < 0 and -0.1 < rows[INPUT_X_GRADIENT][correlation] < 0
    assert all(rows[name][correlation] >= 0 for name in NON_NEGATIVE if name in rows)
    assert rows[DEPTH][loss] < 0
    assert all(abs(row[loss]) < abs(rows[DEPTH][loss]) for name, row in rows.items() if name != DEPTH)


@every_run
def test_z_plus_follows_edges_and_edges_alone_earn_about_half_its_score(run):
    """ "its region ranking follows the edge strength far more closely than any other method's"; the edges
    control "under every replacement ... scores above random by many standard errors, about half of z⁺'s
    ABPC"; "by RMS pixel change they change z⁺'s most relevant half about as much as a random half (ROAD
    ... changes it more)"."""
    rows = run_table(NOTEBOOK, "edges", run)
    correlation = "rank correlation with edge strength"
    others = [name for name in rows if name not in (EDGES, ZPLUS, ZPLUS_RAW)]
    assert min(rows[ZPLUS][correlation], rows[ZPLUS_RAW][correlation]) > 2 * max(rows[n][correlation] for n in others)
    abpc, versus = run_table(NOTEBOOK, "abpc", run), run_table(NOTEBOOK, "abpc_vs_random", run)
    for replacement in (MEAN, NOISE, ROAD):
        assert versus[EDGES][replacement] > many(run)
        assert 0.35 < abpc[EDGES][replacement] / abpc[ZPLUS][replacement] < 0.75
    for replacement in (MEAN, NOISE):
        change = rows[ZPLUS][f"pixel change, {replacement}"] / rows[RANDOM][f"pixel change, {replacement}"]
        assert 0.9 < change < 1.1
    assert rows[ZPLUS][f"pixel change, {ROAD}"] > 1.2 * rows[RANDOM][f"pixel change, {ROAD}"]


# --- Model randomisation ----------------------------------------------------------------------------


@every_run
def test_only_z_plus_absolute_maps_survive_the_top_layer(run):
    rows = run_table(NOTEBOOK, "randomisation", run)
    first = "absolute, + logits"  # the logits layer randomised, the first stage of the cascade
    assert rows[ZPLUS][first] > 0.9 and rows[ZPLUS_RAW][first] > 0.9
    assert all(row[first] < 0.9 for name, row in rows.items() if name not in (ZPLUS, ZPLUS_RAW))


@every_run
def test_signed_z_plus_keeps_or_flips_as_the_random_logit_turns_negative(run):
    rows = run_table(NOTEBOOK, "randomisation", run)
    negative = next(iter(run_table(NOTEBOOK, "random_logit", run).values()))["value"]
    for name in (ZPLUS, ZPLUS_RAW):
        kept, flipped = rows[name]["signed, kept (> 0.9)"], rows[name]["signed, flipped (< −0.9)"]
        assert kept + flipped > 0.95
        assert abs(flipped - negative) <= 0.05
    assert all(rows[name]["signed, kept (> 0.9)"] + rows[name]["signed, flipped (< −0.9)"] < 0.5 for name in SIGNED)


def test_binder_et_al_is_cited_for_preserved_scale():
    for text in (markdown(NOTEBOOK), markdown(SOLUTIONS)):
        assert "changes the scale" not in text
    assert "preserves the scale of the forward activations" in markdown(NOTEBOOK)


# --- Solutions --------------------------------------------------------------------------------------


def _mean_and_error(cell: str) -> tuple[float, float]:
    mean, error = cell.replace("−", "-").split(" ± ")
    return float(mean), float(error)


CONV_AB_SHORT = "LRP αβ-conv composite"


def test_solution_1_the_top_four_hold_and_the_noisy_signed_maps_need_large_regions():
    rankings = {size: row["best to worst"].split(" > ") for size, row in table(SOLUTIONS, "by_region_ranking").items()}
    tops = {tuple(order[:4]) for order in rankings.values()}
    assert tops == {(CONV_AB_SHORT, ZPLUS, SENSITIVITY, DEPTH)}, "the top four, in this order, at every size"
    rows = table(SOLUTIONS, "by_region")
    for name in (EPSILON, INPUT_X_GRADIENT):
        small, small_error = _mean_and_error(rows[name]["2×2"])
        large, large_error = _mean_and_error(rows[name]["8×8"])
        assert small <= _mean_and_error(rows[RANDOM]["2×2"])[0] + 2 * small_error, "no better than random"
        assert large > _mean_and_error(rows[RANDOM]["8×8"])[0] + 2 * large_error, "clearly above random"


def test_solution_2_the_blur_helps_montavons_composite_most_and_sensitivity_loses():
    rows = table(SOLUTIONS, "blur")
    gain = "change ÷ its standard error"
    assert max(rows, key=lambda name: rows[name]["change"]) == DEPTH
    assert rows[DEPTH][gain] > MANY
    assert rows[EPSILON][gain] > 2 and rows[INPUT_X_GRADIENT][gain] > 2
    assert abs(rows[ZPLUS][gain]) < 2 and abs(rows[CONV_AB_SHORT][gain]) < 2
    assert rows[SENSITIVITY][gain] < -2
    notebook = table(NOTEBOOK, "abpc")
    assert notebook[DEPTH][ROAD] > 2 * notebook[DEPTH][MEAN], "ROAD moves the composite the same way"


def test_solution_3_alpha_beta_lands_high_and_conserves_only_when_canonized():
    rows = table(SOLUTIONS, "added")
    assert max(rows, key=lambda name: rows[name]["ABPC"]) == CONV_AB_SHORT
    alpha_beta, raw = rows["LRP-αβ (α = 2)"], rows["LRP-αβ (α = 2), as trained"]
    assert abs(alpha_beta["ABPC"] - rows[ZPLUS]["ABPC"]) < alpha_beta["±"] + rows[ZPLUS]["±"]
    assert abs(alpha_beta["ABPC"] - raw["ABPC"]) < alpha_beta["±"] + raw["±"]
    share = "median share of the logit at the pixels"
    assert alpha_beta[share] == "100%"
    assert float(raw[share].rstrip("%")) > 200
    for name in ("LRP-ε (ε = 1)", "LRP-ε (ε = 1), as trained"):
        assert float(rows[name][share].rstrip("%")) <= 2
        for higher in (ZPLUS, "LRP-αβ (α = 2)", "LRP-αβ (α = 2), as trained"):
            assert rows[name]["ABPC"] + 2 * rows[name]["±"] < rows[higher]["ABPC"], "well below α2β1 and z⁺"


def test_solution_4_each_layer_matters_and_the_top_layers_change_most():
    rows = table(SOLUTIONS, "independent")
    assert all(abs(row["mean"]) < 0.15 for row in rows.values())
    assert min(rows, key=lambda name: rows[name]["mean"]) == "logits"
    versus = "− logits, in s.e."
    assert rows["dense"][versus] < 2
    assert max(rows, key=lambda name: rows[name]["mean"]) == "block1_conv2"
    assert rows["block1_conv2"][versus] > MANY
