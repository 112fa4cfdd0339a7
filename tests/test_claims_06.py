"""Notebook 06 and its solutions: the words of the prose against the committed outputs. What the prose says
of the clean and of the poisoned model is also checked against the models of the recorded seeds, clean and
poisoned, as `benchmarks/across_runs.py` recomputed notebook 06's tables on them
(benchmarks/results/across_runs.json)."""

import re

import pytest
from notebook_outputs import COMMITTED, markdown, recorded_seeds, run_table, table

NB = "06_clever_hans"
SOLUTIONS = "solutions/06_clever_hans_solutions"
PATCH_AREA = 16 / 1024
every_poisoned_run = pytest.mark.parametrize("run", [COMMITTED, *recorded_seeds(poisoned=True)])


@pytest.mark.parametrize("run", [COMMITTED, *recorded_seeds()])
def test_the_clean_model_ignores_the_patch(run):
    """ "The clean model hardly notices the patch: its accuracy on stamped test images stays within a point of
    its accuracy on clean ones, and it calls hardly any stamped non-horse a horse"; "For the clean model the
    median share on the patch is, for every method, about the patch's share of the image or less: at most one
    and a half times it"."""
    clean = run_table(NB, "behaviour", run)["clean model"]
    assert abs(clean["test accuracy"] - clean["stamped test accuracy"]) < 0.01  # "within a point"
    assert clean["stamped non-horses called horse"] < 0.02  # "hardly any"
    medians = run_table(NB, "patch_mass", run)
    assert max(row["clean model"] for row in medians.values()) <= 1.5 * PATCH_AREA


@every_poisoned_run
def test_the_poisoned_model_follows_the_patch(run):
    """ "The poisoned model classifies clean test images less accurately than the clean model ..., but stamp
    the patch on any image and it says horse for most of them, and its stamped test accuracy collapses"; a
    poisoned seed against the clean model of the same seed."""
    poisoned = run_table(NB, "behaviour", run)["poisoned model"]
    clean = run_table(NB, "behaviour", run.removeprefix("poisoned "))["clean model"]
    assert poisoned["test accuracy"] < clean["test accuracy"]  # "less accurately"
    assert poisoned["stamped non-horses called horse"] > 0.5  # "most of them"
    assert poisoned["stamped test accuracy"] < 0.5 * poisoned["test accuracy"]  # "collapses"


def test_the_poisoned_model_trained_with_another_recipe_and_fewer_epochs():
    behaviour = table(NB, "behaviour")
    clean, poisoned = behaviour["clean model"], behaviour["poisoned model"]
    (clean_recipe, clean_epochs), (poisoned_recipe, poisoned_epochs) = (
        re.fullmatch(r"(\w+) recipe, (\d+) epochs", model["trained"]).groups() for model in (clean, poisoned)
    )
    assert clean_recipe != poisoned_recipe and int(poisoned_epochs) < int(clean_epochs)


@every_poisoned_run
def test_relevance_on_the_patch_ranks_as_the_prose_says(run):
    medians = run_table(NB, "patch_mass", run)
    medians = {method.replace("\\", ""): row for method, row in medians.items()}  # unescape "\\|"
    poisoned = {method: row["poisoned model"] for method, row in medians.items()}
    assert min(poisoned.values()) > 3 * PATCH_AREA  # "several times that share"
    ranking = sorted(poisoned, key=poisoned.get, reverse=True)
    assert set(ranking[:2]) == {"LRP-ε (ε = 1)", "LRP composite"}
    assert min(poisoned["LRP-ε (ε = 1)"], poisoned["LRP composite"]) > 0.5  # "most of it"
    assert set(ranking[-2:]) == {"sensitivity (|gradient|)", "input × gradient"}


def _by_index(column: dict) -> list:
    return [value for _, value in sorted(column.items(), key=lambda item: int(item[0]))]


@every_poisoned_run
def test_two_zero_eigenvalues_split_the_graph_and_one_leaves_it_joined_by_few_edges(run):
    """ "Where the first two are both zero (zero up to rounding: below 10⁻¹⁴ in the table), the nearest-neighbour
    graph ... falls apart into two pieces"; "Where only the first is zero and the second is small but clearly
    above rounding ... the rule falls back to the largest eigengap, which then lies after the second eigenvalue
    and finds the two groups"; "Where the graph falls apart ... When the first of them is smaller than a gap
    further up, the rule picks more than two clusters"."""
    spectrum = run_table(NB, "spectrum", run)
    eigenvalues, gaps = _by_index(spectrum["eigenvalue"]), _by_index(spectrum["gap to the next"])
    largest = run_table(NB, "spray_rules", run)["largest eigengap"]
    assert abs(eigenvalues[0]) < 1e-14 and 1e-8 < eigenvalues[2]  # one zero at least, never three
    if abs(eigenvalues[1]) < 1e-14:  # two pieces: the gaps after the zeros lie within them
        assert (largest["clusters"] > 2) == (gaps[1] < max(gaps[2:6]))
    else:  # connected: "small but clearly above rounding", the largest gap right after it
        assert 1e-8 < eigenvalues[1] < eigenvalues[2] / 10
        assert max(range(1, 6), key=lambda k: gaps[k]) == 1 and largest["clusters"] == 2


@every_poisoned_run
def test_zero_eigenvalues_find_stamped_and_clean_and_the_largest_gap_alone_may_split_them(run):
    """ "Either way the two clusters are exactly the stamped and the clean horses"; "Both groupings are pure;
    where the largest eigengap picks more than two clusters, its index falls below 0.5, while the grouping from
    the zero eigenvalues has an index of 1"."""
    rules = run_table(NB, "spray_rules", run)
    components, largest = rules["zero eigenvalues (components)"], rules["largest eigengap"]
    assert components["clusters"] == 2 and components["purity"] == 1.0 and components["adjusted Rand index"] > 0.999
    assert largest["purity"] == 1.0
    assert largest["adjusted Rand index"] < 0.5 if largest["clusters"] > 2 else largest["adjusted Rand index"] > 0.999


@every_poisoned_run
def test_the_stamped_cluster_looks_at_the_corner_and_the_clean_one_does_not(run):
    clusters = run_table(NB, "spray_clusters", run)
    stamped = [row for row in clusters.values() if row["stamped"] == 1.0]
    clean = [row for row in clusters.values() if row["stamped"] == 0.0]
    assert len(stamped) == len(clean) == 1
    assert stamped[0]["mean map's share on the patch"] > 0.5 > 0.05 > clean[0]["mean map's share on the patch"]


def test_no_project_history_and_seed_means_a_random_seed():
    for name in (NB, SOLUTIONS):
        text = markdown(name)
        assert not re.search(r"seed (project|model|recipe)|first found|\bCI\b|nbval|quick mode", text), name


def test_solution_1_a_fifth_stamped_still_teaches_the_shortcut_and_spray_finds_it():
    fifth = table(SOLUTIONS, "shortcut_by_share")["20% stamped"]
    assert fifth["stamped non-horses called horse"] > 0.5  # "most stamped non-horses become horses"
    assert fifth["clean non-horses called horse"] < 0.05  # "a few per cent of clean ones"
    assert fifth["median relevance on the patch"] > 0.5  # "most of the horse relevance"
    assert fifth["SpRAy clusters"] == 2 and fifth["adjusted Rand index"] > 0.999 and fifth["purity"] == 1.0
    assert fifth["epochs"] < table(SOLUTIONS, "shortcut_by_share")["80% stamped (notebook 06)"]["epochs"]


def test_solution_2_the_attack_works_from_every_corner_and_the_heatmaps_follow_it():
    corners = table(SOLUTIONS, "random_corners")
    rates = [
        row["stamped non-horses called horse"]
        for name, row in corners.items()
        if name.startswith("random corners, patch ") and "in a random corner" not in name
    ]
    assert len(rates) == 4 and min(rates) > 0.8  # "the large majority", from every corner
    random_mass = corners["random corners, patch in a random corner"]["median relevance on the patch"]
    fixed_mass = corners["notebook 06's model (bottom right)"]["median relevance on the patch"]
    assert random_mass > fixed_mass > 10 * PATCH_AREA  # "far above", "higher even than notebook 06's"


def test_solution_3_both_lrp_variants_separate_perfectly_the_gradient_nearly():
    methods = table(SOLUTIONS, "spray_by_method")
    for lrp in ("LRP-ε (ε = 1)", "LRP composite"):
        assert methods[lrp]["SpRAy clusters"] == 2
        assert methods[lrp]["adjusted Rand index"] > 0.999 and methods[lrp]["purity"] == 1.0
    gradient = methods["gradient (sensitivity)"]
    assert 0.8 < gradient["adjusted Rand index"] < 0.999 and 0.95 < gradient["purity"] < 1.0


def test_solution_4_the_patch_keeps_relevance_after_an_epoch_of_fine_tuning():
    unlearning = table(SOLUTIONS, "unlearning")  # rows "after 0.2 epochs": sort by the number
    rows = [unlearning[name] for name in sorted(unlearning, key=lambda name: float(name.split()[1]))]
    rates = [row["stamped non-horses called horse"] for row in rows]
    masses = [row["median relevance on the patch"] for row in rows]
    assert 0.3 < rates[-1] < 0.7 and rates[-1] < rates[0]  # "about half ... still called horse"
    assert masses[-1] < masses[0] and masses[-1] > 10 * PATCH_AREA  # "many times its share of the image"
    middle = len(rows) // 2 + 1  # falls over the first part, then levels off
    for values in (rates, masses):
        assert values[middle] < values[0] and abs(values[-1] - values[middle]) < 0.25 * (values[0] - values[middle])
