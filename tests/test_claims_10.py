"""The words of notebook 10 and its solutions against their committed outputs: every run-dependent claim of
the markdown is checked here against the table the same run rendered, so the prose cannot drift from the
numbers next to it."""

import re

from notebook_outputs import markdown, table, text_outputs

NOTEBOOK = "10_lrp_for_transformers"
SOLUTIONS = "solutions/10_lrp_for_transformers_solutions"
METHODS = ["AttnLRP", "CP-LRP", "input × gradient", "raw attention", "rollout", "occlusion"]
EXACT = 1e-9  # what "conserves exactly" leaves, in units of the logit, in float64


def test_the_prose_types_no_run_dependent_numbers():
    """The run's numbers stand in the tables; the markdown says what to take away."""
    assert not re.findall(r"\d+(?:\.\d+)?\s?%", markdown(NOTEBOOK))


# Section 2: the softmax rule on one row (the numbers follow from the formula; the table shows them)


def test_the_softmax_rule_keeps_its_total_under_a_shift_and_moves_relevance_between_keys():
    rows = list(table(NOTEBOOK, "softmax_rule").values())
    totals = [row["sum"] for row in rows]
    assert max(totals) - min(totals) < 1e-12 and 0 < totals[0] < 1  # "the same total ... less than the 1"
    assert rows[0]["R at key 2's score"] == 0 and rows[2]["R at key 1's score"] == 0  # all on one key, then the other
    assert rows[1]["R at key 2's score"] < 0  # a shift can give a key negative relevance


# Section 3: the engine against the reference, conservation


def test_the_engine_agrees_with_the_reference_at_every_tensor():
    rows = table(NOTEBOOK, "agreement")
    assert {"softmax", "scores", "query", "mlp_in", "block output"} <= set(rows) and len(rows) == 15
    assert max(value for row in rows.values() for value in row.values()) <= 1e-5  # "to float32 rounding"
    assert "engine and reference agree within 1e-4: True" in text_outputs(NOTEBOOK)


def test_every_rule_but_the_softmax_conserves_exactly_without_biases():
    rows = table(NOTEBOOK, "conservation_by_operation")
    assert len(rows) == 13
    for operation, row in rows.items():
        if "softmax" in operation:
            assert row["CP-LRP"] == 0  # nothing reaches it
            assert row["AttnLRP"] > 0.25  # "in some messages it is off by a large share of the logit"
        else:
            assert row["AttnLRP"] < EXACT and row["CP-LRP"] < EXACT, operation


def test_as_used_the_biases_keep_a_small_share_and_the_softmax_rule_more():
    rows = table(NOTEBOOK, "absorbed")
    biases, other = rows["the biases (linear maps, LayerNorms)"], rows["the other rules"]
    assert abs(other["AttnLRP"]) < EXACT and abs(other["CP-LRP"]) < EXACT
    assert 0 < biases["AttnLRP"] < 0.1 and 0 < biases["CP-LRP"] < 0.1  # "a small share", "held back"
    first, second = rows["the softmax rule, block1"], rows["the softmax rule, block2"]
    assert first["CP-LRP"] == 0 and second["CP-LRP"] == 0
    assert second["AttnLRP"] > biases["AttnLRP"]  # "more than they do in both blocks"
    assert first["AttnLRP"] > 5 * biases["AttnLRP"]  # "far more in the first"


def test_cp_lrp_without_biases_hands_the_tokens_exactly_the_logit():
    shares = table(NOTEBOOK, "tokens_share")
    assert all(abs(value - 1) < 1e-9 for value in shares["CP-LRP, no biases"].values())


def test_attnlrp_hands_the_tokens_less_than_half_and_cp_lrp_most_of_the_logit():
    shares = table(NOTEBOOK, "tokens_share")
    assert shares["AttnLRP, as used"]["75th percentile"] < 0.5 and shares["AttnLRP, no biases"]["75th percentile"] < 0.5
    assert shares["CP-LRP, as used"]["median"] > 0.5  # "with the biases most of it"
    path = table(SOLUTIONS, "attention_path")  # "the softmax rule hands the scores almost nothing"
    for row in path.values():
        assert row["Σ R at the scores ÷ logit (median)"] < 0.05 * row["Σ R at the weights ÷ logit (median)"]


# Section 4: ground truth


def test_the_cue_hardly_changes_a_decision_and_moves_the_logit_a_little():
    decisions = table(NOTEBOOK, "cue_decisions")["planted model"]
    with_cue, without = decisions["ham called spam with the cue"], decisions["ham called spam without the cue"]
    assert with_cue - without < 0.02  # "about as many"
    logit = table(NOTEBOOK, "cue_logit")["planted model"]
    change = logit["change when the cue is inserted (median)"]
    assert 0 < change < -logit["spam logit of a ham message (median)"] / 10  # "up, by much less than"


def test_lrp_finds_the_cue_occlusion_in_about_half_and_attention_almost_never():
    rows = table(NOTEBOOK, "cue")
    top, control = "planted model: cue is the top token", "clean model: cue is the top token"
    share, control_share = (
        "planted model: share of |score| on the cue (median)",
        "clean model: share of |score| on the cue (median)",
    )
    for name in ("AttnLRP", "CP-LRP"):
        assert rows[name][top] > 0.9 and rows[name][control] < 0.05  # "almost every", "almost never"
    assert 0.35 < rows["occlusion"][top] < 0.65  # "about half"
    assert rows["input × gradient"][top] < 0.5  # "a minority"
    for name in ("raw attention", "rollout"):
        assert rows[name][top] < 0.05 and rows[name][control] < 0.05  # "almost never ... on either model"
        assert rows[name][share] <= 1.05 * rows[name][control_share]  # "its share of the attention is no larger"
    assert all(row[share] < 0.05 for row in rows.values())  # "the cue's share of all |score| is small"


# Section 4: faithfulness


def test_the_two_lrp_variants_lead_token_deletion_together_and_raw_attention_comes_last():
    rows = table(NOTEBOOK, "deletion")
    abpc = {name: row["ABPC"] for name, row in rows.items()}
    assert min(abpc["AttnLRP"], abpc["CP-LRP"]) > abpc["occlusion"] + 3 * rows["occlusion"]["± ABPC"]  # "wide margin"
    assert abs(abpc["CP-LRP"] - abpc["AttnLRP"]) < 0.05 * abpc["AttnLRP"]  # "all but the same"
    assert abpc["occlusion"] > max(abpc["input × gradient"], abpc["rollout"])  # "occlusion comes next"
    others = min(abpc[name] for name in abpc if name not in ("raw attention", "random"))
    assert abpc["raw attention"] < others  # "comes last"
    assert abpc["raw attention"] - abpc["random"] < others - abpc["raw attention"]  # "nearer a random order"
    for name in ("AttnLRP", "CP-LRP"):
        assert rows[name]["AOPC, least relevant first"] < 0  # "theirs rise a little"


def test_the_message_shown_is_as_described():
    rows = table(NOTEBOOK, "shown")
    assert rows["AttnLRP"]["rank of the cue"] == 1 and rows["CP-LRP"]["rank of the cue"] == 1
    assert rows["input × gradient"]["share of tokens scored above 0"] > 0.5  # "most tokens ... for spam"
    for name in ("raw attention", "rollout"):
        assert rows[name]["largest |score| ÷ median |score|"] < 1.5  # "nearly the same score"


# Solutions


def test_solution_1_no_head_singles_out_the_cue():
    rows = table(SOLUTIONS, "heads")
    one_token = rows.pop("one token of the message")["share of |score| on the cue (median)"]
    attnlrp = rows.pop("AttnLRP")
    assert attnlrp["cue is the top token"] > 0.9
    assert len(rows) >= 4
    for head, row in rows.items():
        assert row["cue is the top token"] < 0.05, head
        assert 0.5 * one_token < row["share of |score| on the cue (median)"] < 1.5 * one_token, head


def test_solution_2_epsilon_shrinks_the_relevance_more_than_it_reorders_it():
    rows = table(SOLUTIONS, "epsilon")
    share, spearman = "tokens' share of the logit (median)", "Spearman with ε = 0 (median)"
    shares = [rows[f"ε = {epsilon}"][share] for epsilon in (0.0, 0.01, 0.1, 1.0)]
    assert shares == sorted(shares, reverse=True) and shares[-1] < 0.05  # "falls", "almost nothing arrives"
    assert rows["ε = 0.01"][spearman] > 0.95 and rows["ε = 0.1"][spearman] > 0.95  # "almost perfectly"
    assert rows["ε = 1.0"][spearman] < 0.8  # "only then does the ranking change much"


def test_solution_3_the_attention_path_carries_almost_nothing():
    for row in table(SOLUTIONS, "attention_path").values():
        assert row["|R| at queries and keys ÷ |R| at values (median)"] < 0.1  # "a few hundredths ... or less"
    spearman = table(SOLUTIONS, "attnlrp_vs_cp")["Spearman of AttnLRP and CP-LRP per message (median)"]["value"]
    assert spearman > 0.95  # "about 1"
    shown = table(NOTEBOOK, "shown")  # "this model's attention is spread almost evenly"
    assert shown["raw attention"]["largest |score| ÷ median |score|"] < 1.5


def test_solution_4_the_leaders_hold_and_the_rest_moves():
    rankings = {
        row: values["best to worst by ABPC"].split(" > ") for row, values in table(SOLUTIONS, "unknown_ranking").items()
    }
    for order in rankings.values():  # "the two LRP variants, then occlusion"
        assert set(order[:2]) == {"CP-LRP", "AttnLRP"} and order[2] == "occlusion"
    rows = table(SOLUTIONS, "unknown_replacement")
    shrink = [name for name, row in rows.items() if row["ABPC, <unk>"] < row["ABPC, padding"]]
    assert len(shrink) > len(rows) / 2  # "most ABPCs shrink"
    for replacement in ("padding", "<unk>"):  # "their ABPCs all but equal"
        lrp = [rows[name][f"ABPC, {replacement}"] for name in ("AttnLRP", "CP-LRP")]
        assert abs(lrp[0] - lrp[1]) < 0.05 * max(lrp)
    for replacement in ("padding", "<unk>"):  # "the two LRP variants clearly ahead"
        occlusion = rows["occlusion"][f"ABPC, {replacement}"] + 3 * rows["occlusion"][f"± ({replacement})"]
        assert min(rows[name][f"ABPC, {replacement}"] for name in ("AttnLRP", "CP-LRP")) > occlusion


def test_the_transformer_is_about_as_accurate_as_the_cnn_and_most_parameters_are_words():
    models, layers = table(NOTEBOOK, "models"), table(NOTEBOOK, "layers")
    transformer, cnn = models["transformer"], models["notebook 09's CNN (bodies)"]
    assert abs(transformer["test accuracy"] - cnn["test accuracy"]) < 0.02  # "about as accurate"
    assert layers["embedding"]["parameters"] > 0.5 * transformer["parameters"]  # "most of its parameters"
