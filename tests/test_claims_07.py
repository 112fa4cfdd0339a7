"""The words of notebook 07 and its solutions, checked against their committed outputs."""

from notebook_outputs import markdown, notebook, table

NB = "07_interactive_explorer"
SOLUTIONS = "solutions/07_interactive_explorer_solutions"
R = "r(horse map, deer map)"


def test_lessons_leave_the_explorer_s_threads_to_the_package():
    for name in (NB, SOLUTIONS):
        assert "thread" not in markdown(name), name


def test_z_plus_and_the_alpha_beta_conv_composite_give_smoother_maps_than_epsilon():
    """Section 2: "correlate with their neighbours far more than LRP-ε's"."""
    smoothness = {row: values["value"] for row, values in table(NB, "smoothness").items()}
    epsilon = smoothness["LRP-ε (ε = 0.1)"]
    for name in ("LRP z⁺", "αβ-conv composite (α = 1)"):
        assert smoothness[name] > epsilon + 0.3, (name, smoothness)  # "far more"
    assert epsilon < 0.1  # "0 or below for speckle"


def test_z_plus_is_nearly_class_blind_and_the_deer_map_flips_sign():
    logits = table(NB, "logits")
    assert logits["horse"]["value"] > 0 > logits["deer"]["value"]  # "negative here, so its sign flips"
    r = {row: values[R] for row, values in table(NB, "class_blind").items()}
    assert r["LRP z⁺"] < -0.95  # "close to −1"
    # "The αβ-conv composite inherits part of this ..., LRP-ε less"
    assert abs(r["LRP z⁺"]) > abs(r["αβ-conv composite (α = 1)"]) > abs(r["LRP-ε (ε = 0.1)"])


def test_the_z_plus_contrast_is_the_predicted_map_again():
    r = {row: values["r(contrast, predicted-class map)"] for row, values in table(NB, "contrast").items()}
    assert r["LRP z⁺"] > 0.95  # "r above 0.95"
    assert r["LRP-ε (ε = 0.1)"] < r["LRP z⁺"] - 0.05  # "departs further"


def test_z_plus_conserves_on_the_canonized_network_only():
    networks = table(NB, "networks")
    assert abs(networks["canonized"]["ΣR / logit"] - 1) < 1e-3  # "hands the whole logit to the pixels"
    assert networks["as trained"]["ΣR / logit"] < 0.75  # "much of it never arrives", "a fainter map"


def test_analyzers_are_built_once():
    timings = {row: values["value"] for row, values in table(NB, "timings").items()}
    assert timings["analyzers built"] == 1
    assert timings["first LRP-αβ explanation (builds the analyzer)"] > timings["each of the next five, at most"]


def _solution_code() -> str:
    cells = notebook(SOLUTIONS)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_solutions_use_the_explorers_public_api():
    code = _solution_code()
    assert "REGISTRY" not in code and ".children" not in code and "explore.offer(" in code


def test_solution_1_the_maps_thin_out_and_the_relevance_collapses():
    rows = table(SOLUTIONS, "epsilon")
    visible = [rows[f"ε = {eps}"]["visible pixels"] for eps in ("1", "3", "10")]
    arriving = [rows[f"ε = {eps}"]["ΣR / logit"] for eps in ("1", "3", "10")]
    assert visible[0] > visible[2] > 0  # "it only thins out", never blank
    assert arriving[0] < 0.1  # "already at ε = 1 ... a small part of the logit"
    assert arriving[1] < arriving[0] / 5 and arriving[2] < arriving[1] / 5  # "an order of magnitude or more"
    assert visible[2] / visible[0] > arriving[2] / arriving[0]  # the scaling hides the collapse


def test_solution_2_the_button_shows_the_most_confident_mistake():
    rows = table(SOLUTIONS, "mistake")
    assert rows["most confident mistake"]["value"] == rows["shown by the app"]["value"]


def test_solution_3_each_side_keeps_its_method():
    rows = table(SOLUTIONS, "side_by_side")
    assert rows["right"]["method"] == "gradient" and rows["left"]["method"] == "lrp.epsilon"
    assert rows["right"]["image"] == rows["left"]["image"]


def test_solution_4_the_cached_analyzer_is_faster():
    ms = {row: values["value"] for row, values in table(SOLUTIONS, "update_ms").items()}
    assert ms["LRP-ε (iNNvestigate, analyzer cached)"] < ms["LRP composite (NumPy reference)"]
