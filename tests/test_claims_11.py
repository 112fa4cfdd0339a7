"""The words of notebook 11 and its solutions against their committed outputs: every run-dependent claim of
the markdown is checked here against the table the same run rendered, so the prose cannot drift from the
numbers next to it."""

import re

import numpy as np
import pytest
from notebook_outputs import COMMITTED, MAKE_ALL, markdown, run_table, table, text_outputs

NOTEBOOK = "11_concepts"
SOLUTIONS = "solutions/11_concepts_solutions"
PATCH_AREA = 16 / 1024


def _column(rows: dict, column: str) -> np.ndarray:
    return np.array([row[column] for row in rows.values()])


def test_the_prose_types_no_run_dependent_numbers():
    """The run's numbers stand in the tables; the markdown says what to take away."""
    assert not re.findall(r"\d+(?:\.\d+)?\s?%", markdown(NOTEBOOK))


def test_the_conditional_maps_add_up_to_float32_rounding():
    """ "agree to float32 rounding"."""
    (row,) = table(NOTEBOOK, "completeness").values()
    assert row["channels"] == 64
    (difference,) = [value for column, value in row.items() if column.startswith("largest")]
    assert difference < 1e-5
    assert "add up to the unconditional one: True" in text_outputs(NOTEBOOK)


def test_no_single_channel_carries_the_decision():
    """ "the most relevant channel ... and the most relevant unit ... each hold less than a tenth of their layer's
    relevance, and the six most relevant together less than half"."""
    rows = table(NOTEBOOK, "decision")
    for layer in ("block2_conv2", "dense"):
        shares = [row["share"] for name, row in rows.items() if name.startswith(f"{layer} #")]
        assert len(shares) == 6 and shares == sorted(shares, reverse=True)
        assert shares[0] < 0.1 and sum(shares) < 0.5


def test_relmax_and_actmax_pick_different_images_and_relmax_predicts_the_drop():
    """ "fewer than one in ten ... for most channels the two sets share no image"; "several times more ...
    on average, and more for every one of the 64 channels"."""
    rows = {name: row["mean over channels"] for name, row in table(NOTEBOOK, "relmax_vs_actmax").items()}
    assert rows["RelMax images also among the ActMax images"] < 0.1
    assert rows["channels with no image in common"] > 0.5
    relmax, actmax = (
        rows["logit drop on RelMax images (channel off)"],
        rows["logit drop on ActMax images (channel off)"],
    )
    assert relmax > 2.5 * actmax > 0
    assert rows["channels whose drop is larger on RelMax images"] == 1


def test_relevance_ranks_the_images_by_the_drop():
    """ "R_c(x) ranks the images almost exactly ..., while the activation ranks them only weakly, and relevance is
    the better predictor for every channel"."""
    rows = table(NOTEBOOK, "predicts_the_drop")
    relevance, activation = rows["relevance R_c(x)"], rows["activation (max over positions)"]
    assert relevance["median over channels"] > 0.9
    assert 0 < activation["median over channels"] < 0.5
    assert relevance["channels where it is the better"] == 1


@pytest.mark.parametrize("run", [COMMITTED, MAKE_ALL])
def test_the_first_suspects_encode_the_patch_and_the_rest_mix(run):
    """ "The RelMax reference images of the first few suspects ... are all or nearly all stamped"; "about half of
    the relevance or more lies on the patch"; "some suspects' reference images are clean ..., while a few more
    channels encode the patch again"; "for some of the patch channels, none of the images that excite them most
    is stamped, and on average fewer of their ActMax images are"."""
    rows = run_table(NOTEBOOK, "suspects", run)
    assert len(rows) == 16
    relmax, actmax = _column(rows, "RelMax images stamped"), _column(rows, "ActMax images stamped")
    on_patch = _column(rows, "RelMax maps' relevance on the patch")
    first = slice(0, 4)
    assert relmax[first].min() >= 0.85
    assert on_patch[first].min() >= 0.45 and on_patch[first].max() > 0.5
    assert (relmax[4:] == 0).any() and (relmax[4:] > 0.5).any()
    patch_channels = relmax > 0.5
    assert (actmax[patch_channels] == 0).any()
    assert actmax[patch_channels].mean() < relmax[patch_channels].mean()


@pytest.mark.parametrize("run", [COMMITTED, MAKE_ALL])
def test_switching_the_suspects_off_removes_the_shortcut(run):
    """ "each group switched off lowers the share of stamped non-horses called horse, and with all sixteen off it
    falls from most of them to a few per cent or less, while the accuracy on stamped images climbs to within a few
    points of the accuracy on clean ones"; clean images "lose several points"; random channels: "even more
    stamped images become horses"."""
    rows = run_table(NOTEBOOK, "switched_off", run)
    intact, *steps, random = rows.values()
    assert list(rows)[-2] == "first 16 suspects off" and list(rows)[-1].startswith("16 random")
    called_horse = [row["stamped non-horses called horse"] for row in (intact, *steps)]
    assert all(later < earlier for earlier, later in zip(called_horse, called_horse[1:]))
    assert called_horse[0] > 0.75 and called_horse[-1] < 0.05
    everything_off = steps[-1]
    assert abs(everything_off["stamped accuracy"] - everything_off["clean accuracy"]) < 0.05
    assert 0.03 < intact["clean accuracy"] - everything_off["clean accuracy"] < 0.15
    assert random["stamped non-horses called horse"] > intact["stamped non-horses called horse"]


@pytest.mark.parametrize("run", [COMMITTED, MAKE_ALL])
def test_relevance_ranks_the_channels_up_to_a_quarter_of_the_layer_not_half(run):
    """ "Up to a quarter of the layer (k ≤ 16) ...: switching off the most relevant channels lowers the logit most,
    far more than switching off the most activated ones, with standard errors much smaller than the gap. The most
    activated lower it more than random ones, though with one or two channels off the difference is small next to
    relevance's lead"; "The most relevant single channel alone removes several times what the most activated one
    does"; "At k = 32 ... the 32 most activated channels lower the logit as much as the 32 most relevant, or more"."""
    rows = run_table(NOTEBOOK, "faithfulness", run)
    for k in (1, 2, 4, 8, 16):
        row = rows[f"k = {k}"]
        assert row["relevance"] - row["activation"] > 3 * (row["relevance s.e."] + row["activation s.e."])
        assert row["activation"] > row["random"]
        if k >= 4:
            assert row["activation"] - row["random"] > 3 * (row["activation s.e."] + row["random s.e."])
        else:
            assert row["activation"] - row["random"] < 0.25 * (row["relevance"] - row["activation"])
    assert rows["k = 1"]["relevance"] > 3 * rows["k = 1"]["activation"]
    half = rows["k = 32"]
    assert half["activation"] >= half["relevance"] > half["random"]


# The solutions


def test_ranking_by_share_changes_many_references_and_favours_images_with_little_relevance():
    """ "a channel keeps fewer than half of its eight RelMax images on average, though for almost every channel
    at least one stays"; "the images chosen by share hold less |relevance| at the layer than the RelMax images,
    and less than the average test image"."""
    rows = {
        name.replace("\\", ""): row["mean over channels"]
        for name, row in table(SOLUTIONS, "normalised_references").items()
    }
    assert rows["RelMax images kept when ranking by share"] < 0.5
    assert rows["channels whose eight images all change"] < 0.1
    by_share = rows["|relevance| at the layer, images by share"]
    assert by_share < rows["|relevance| at the layer, RelMax images"]
    assert by_share < rows["|relevance| at the layer, all test images"]


def test_relevance_ranks_the_dense_units_at_every_k():
    """ "for every k up to 64 units ..., the most relevant units lower the logit more than the most activated
    ones, which lower it far more than random ones, with standard errors many times smaller than the gaps"."""
    rows = table(SOLUTIONS, "dense_faithfulness")
    assert list(rows)[-1] == "k = 64"
    for row in rows.values():
        assert row["relevance"] - row["activation"] > 5 * (row["relevance s.e."] + row["activation s.e."])
        assert row["activation"] - row["random"] > 5 * (row["activation s.e."] + row["random s.e."])


def test_the_clean_model_and_the_activation_ranking_point_less_at_the_patch():
    """Exercise 3: "only one has mostly stamped RelMax images, against half of the poisoned model's suspects, and
    none has most of its conditional relevance on the patch"; "a fraction of the poisoned model's". Exercise 4:
    "fewer ... have mostly stamped reference images than ranked by relevance, and a smaller share of their
    reference images is stamped; as many have most of their conditional relevance on the patch"."""
    rows = table(SOLUTIONS, "activation_search")
    poisoned, clean, by_activation = (rows[name] for name in rows)
    mostly = "suspects whose RelMax images are mostly stamped"
    stamped = "RelMax images stamped (all suspects)"
    on_patch = "suspects with most of their map on the patch"
    assert clean[mostly] * 16 == pytest.approx(1) and poisoned[mostly] == 0.5 and clean[on_patch] == 0
    assert clean[stamped] < poisoned[stamped] / 2
    assert by_activation[mostly] < poisoned[mostly] and by_activation[stamped] < poisoned[stamped]
    assert by_activation[on_patch] == poisoned[on_patch]
    assert table(SOLUTIONS, "clean_search") == {name: rows[name] for name in list(rows)[:2]}
