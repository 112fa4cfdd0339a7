"""The words of notebook 08 and its solutions, checked against their committed outputs."""

import re

from notebook_outputs import markdown, table, text_outputs

NB = "08_beyond_images"
SOLUTIONS = "solutions/08_beyond_images_solutions"
CHANCE = 16 / 128


def test_part_b_has_no_numbered_sections():
    assert "section 4" not in markdown(NB)  # Part B has no numbered sections


def test_the_three_patients_are_who_the_prose_says():
    """Two tumours classified right, a malignant and a benign one, then a missed cancer."""
    rows = sorted((row["true"], row["predicted"]) for row in table(NB, "patients").values())
    assert rows == [("benign", "benign"), ("malignant", "benign"), ("malignant", "malignant")]


def test_lrp_and_permutation_importance_agree_only_in_part():
    rows = {row: values["value"] for row, values in table(NB, "agreement").items()}
    assert 0 < rows["Spearman rank correlation, all 30 features"] < 0.9  # "positive, but clearly below 1"
    assert 1 <= rows["features in both top fives"] <= 4  # "some but not all of the top five shared"
    assert rows["in LRP's top ten, in permutation's bottom half"]  # the candidates the prose points to


def test_every_method_beats_chance_and_the_gradient_is_lowest():
    medians = {row: values["median"] for row, values in table(NB, "motif_share").items()}
    assert all(CHANCE < median < 1 for median in medians.values()), medians  # "more than chance", "none ... all"
    assert min(medians, key=medians.get) == "gradient"


def test_solution_network_is_notebook_08s():
    """Same training, same seed: the solutions' network has the notebook's test accuracy."""
    notebook_accuracy = table(NB, "tabular_accuracy")["test accuracy"]["value"]
    caption = re.search(r"All 30 features: test accuracy ([\d.]+)%", text_outputs(SOLUTIONS))
    assert caption and abs(float(caption.group(1)) - 100 * notebook_accuracy) < 0.05


def test_solution_1_dropping_the_top_three_costs_no_more_than_the_seed():
    rows = table(SOLUTIONS, "retrained")
    low, high = rows["none"]["lowest"], rows["none"]["highest"]
    for name in ("top 3 by LRP", "top 3 by permutation"):
        assert low - 1e-9 <= rows[name]["mean"] <= high + 1e-9, (name, rows)


def test_solution_3_the_cnn_fails_beyond_sigma_1_and_the_explanation_falls_first():
    accuracy = {row: values["test accuracy"] for row, values in table(SOLUTIONS, "noise").items()}
    assert accuracy["σ = 1"] >= 0.95  # "still holds at σ = 1"
    assert accuracy["σ = 1.5"] < accuracy["σ = 1"] - 0.05 and accuracy["σ = 2"] < accuracy["σ = 1"] - 0.05
    kept = {row: values["value"] for row, values in table(SOLUTIONS, "margin_kept").items()}
    assert kept["share in the motif (chance 12.5%)"] < kept["test accuracy (chance 50%)"]
    assert kept["test accuracy (chance 50%)"] > 0.9  # "almost all of its margin"


def test_solution_4_lrp_separates_the_two_motifs():
    rows = table(SOLUTIONS, "two_motifs")
    for own, other in ((0, 1), (1, 0)):
        shares = rows[f"explaining class {own}"]
        assert shares[f"in motif {own}"] > 3 * shares[f"in motif {other}"]  # "far more"
        assert shares[f"in motif {other}"] < CHANCE  # "less than ... by chance"


def test_zb_at_the_signed_input_layer():
    negative = table(NB, "negative_inputs")["share from negative samples"]["value"]
    assert 0.1 < negative < 0.5  # "a sizeable share"
    rows = table(NB, "first_layer")
    z_plus, alpha_beta = rows["LRP z⁺"], rows["LRP-αβ (α = 2)"]
    own, zb = "its own rule at the input", "zᴮ at the input"
    assert abs(z_plus[zb] - z_plus[own]) < 0.05  # "changes little for z⁺"
    assert alpha_beta[zb] > alpha_beta[own] + 0.05  # "puts more of αβ's positive relevance on the motif"
