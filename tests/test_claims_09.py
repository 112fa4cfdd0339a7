"""The words of notebook 09 and its solutions against their committed outputs: every run-dependent
claim of the markdown (a ranking, a comparison, "most", "few") is checked here against the tables
the same run rendered, so the prose cannot drift from the numbers next to it."""

import re

import pytest
from notebook_outputs import markdown, table, text_outputs

NOTEBOOK = "09_lrp_for_text"
SOLUTIONS = "solutions/09_lrp_for_text_solutions"
MONTHS_AND_DAYS = {
    *"jan feb mar apr may jun jul aug sep oct nov dec".split(),
    *"mon tue wed thu fri sat sun".split(),
}


def _words(cell: str) -> list[str]:
    return cell.split(", ")


def _quoted(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_the_reference_agrees_to_float32_rounding_and_the_tokens_keep_most_but_not_all():
    differences = table(NOTEBOOK, "agreement")
    assert {"embedded", "conv", "pool", "logits", "per token"} <= set(differences)
    assert max(row["largest difference / largest relevance"] for row in differences.values()) <= 1e-5
    assert "iNNvestigate and the reference agree: True" in text_outputs(NOTEBOOK)
    kept = table(NOTEBOOK, "conservation")["tokens' share of the spam logit"]
    assert 0.5 < kept["median"] < 1.0  # "most of the explained logit, but not all of it"


def test_markup_words_and_list_words_carry_the_body_only_models_totals():
    words = table(NOTEBOOK, "top_words")
    spam, ham = (_words(words[side]["most relevant words (total)"]) for side in ("spam", "ham"))
    text = markdown(NOTEBOOK)
    named = _quoted(text[text.index("Among the spam words are") : text.index("The body-only model has")])
    for word in named[: named.index("=3D")]:  # the markup words the prose names
        assert word in spam, (word, spam)
    assert "wrote" in ham
    assert any("list" in word or word.startswith(("spamassassin-", "razor")) for word in ham), ham
    html = {side: words[side]["training messages with HTML"] for side in ("spam", "ham")}
    assert html["spam"] > 5 * html["ham"], html  # "far more common in this corpus's spam than in its ham"


def test_the_whole_message_model_takes_most_of_its_evidence_from_the_header():
    rows = table(NOTEBOOK, "whole_message")
    whole, body = rows["whole-message model"], rows["body-only model"]
    assert whole["test accuracy"] >= body["test accuracy"]  # "at least as accurate"
    header_tokens = table(NOTEBOOK, "tokens")["test tokens from the header (whole messages)"]["value"]
    on_header = whole["|relevance| on the header (median)"]
    assert on_header > 0.5 and on_header > header_tokens + 0.2, (on_header, header_tokens)


def test_the_header_words_are_servers_dates_lists_and_replies():
    rows = table(NOTEBOOK, "header_words")
    spam = _words(rows["spam"]["most relevant header words"])
    ham = _words(rows["ham"]["most relevant header words"])
    assert any("." in word for word in spam), spam  # machines and domains
    assert any(word in MONTHS_AND_DAYS or word.isdigit() for word in spam + ham), (spam, ham)  # dates
    assert any(word in {"in-reply-to", "references", "re"} for word in ham), ham  # reply headers
    assert any("list" in word or "spamassassin" in word or "rpm" in word for word in spam + ham), ham


def test_removing_or_swapping_the_header_breaks_the_whole_message_model():
    rows = table(NOTEBOOK, "interventions")
    body = table(NOTEBOOK, "whole_message")["body-only model"]["test accuracy"]
    accuracy = {name: row["whole-message model: accuracy"] for name, row in rows.items()}
    assert accuracy["header removed"] < accuracy["whole message"]
    assert accuracy["header removed"] < body  # "falls below the body-only model"
    assert accuracy["header swapped"] < 0.5  # "gets most messages wrong"
    assert rows["header swapped"]["follows the header's class"] > 0.5  # "most ... follow the header's class"


def test_occlusion_agrees_on_the_header_and_both_rate_the_tokens_outside_the_winning_windows_0():
    rows = table(NOTEBOOK, "occlusion")
    lrp, occlusion, both = rows["LRP"], rows["occlusion"], rows["both"]
    header = "|relevance| on the header (median)"
    assert lrp[header] > 0.5 and occlusion[header] > 0.5 and abs(lrp[header] - occlusion[header]) < 0.1
    structure = table(NOTEBOOK, "occlusion_structure")
    assert structure["rank correlation of LRP and occlusion per message (median)"]["value"] > 0.5  # "clearly"
    in_windows = structure["share of tokens in some filter's winning window"]["value"]
    assert in_windows < 0.5  # "only a minority"
    assert lrp["tokens rated 0"] > 0.5 and occlusion["tokens rated 0"] > 0.5  # "most tokens"
    assert lrp["tokens rated 0"] == pytest.approx(1 - in_windows, abs=0.01)  # "every other token gets exactly 0"
    assert both["tokens rated 0"] > 0.9 * occlusion["tokens rated 0"]  # "almost the same tokens"


def test_lrp_finds_the_planted_cue_but_few_ham_messages_turn_into_spam():
    rows = table(NOTEBOOK, "cue_decisions")
    clean, planted = rows["clean model"], rows["planted model"]
    assert planted["cue is the most relevant token"] > 0.5 and clean["cue is the most relevant token"] < 0.05
    assert planted["ham called spam with the cue"] > planted["ham called spam without the cue"]
    assert planted["ham called spam with the cue"] > 2 * clean["ham called spam with the cue"]
    assert planted["ham called spam with the cue"] < 0.5  # "only a minority of ham"


def test_the_relevance_mass_on_the_cue_is_inflated_on_ham_and_the_relevance_overstates_the_effect_on_spam():
    mass = table(NOTEBOOK, "cue_mass")
    positive, absolute = "share of positive relevance", "share of |relevance|"
    assert mass["ham"][positive] > 0.5  # "one pro-spam token holds most of it"
    assert mass["ham"][positive] > mass["spam"][positive]
    assert mass["ham"][absolute] < 0.5 * mass["ham"][positive]  # "much smaller"
    logit = table(NOTEBOOK, "cue_logit")
    ham, spam = logit["ham"], logit["spam"]
    change, relevance = "change when the cue is inserted", "cue's relevance"
    assert 0 < ham[change] < -ham["spam logit without the cue"]  # "less than the distance to 0"
    assert spam[relevance] > spam[change] > 0
    assert spam[relevance] / spam[change] > 2 * ham[relevance] / ham[change]  # "far more than on ham"
    kept = "filters the cue wins: value kept without it"
    assert spam[kept] > ham[kept]  # "in spam mail other windows keep more of the filter's value"


def test_the_prose_of_notebook_09_types_no_run_dependent_numbers():
    """The run's numbers stand in the tables; the markdown says what to take away."""
    typed = set(re.findall(r"\d+(?:\.\d+)?\s?%", markdown(NOTEBOOK)))
    assert typed <= {"25%"}, typed  # 25%: the share of spam training bodies given the cue, a choice set in the code


# Solutions


def test_solution_1_the_attack_fails_for_the_reasons_given():
    called = table(SOLUTIONS, "attack_called_spam")["ham called spam"]
    assert called["five copies"] < 0.05 and called["one copy in the body"] < 0.05  # "only a few ... flip"
    in_header = next(iter(table(SOLUTIONS, "attack_word").values()))
    assert in_header["spam"] > 0.2 and in_header["ham"] < 0.02  # "a large share of the spam, almost none of the ham"
    logit = {row: values["value"] for row, values in table(SOLUTIONS, "attack_logit").items()}
    assert logit["relevance of the inserted copy"] >= logit["relevance of an occurrence in a header"]
    assert 0 < logit["change from one copy"] < -logit["spam logit of a ham message"] / 3  # "a small fraction"
    assert logit["change from five copies"] < 2 * logit["change from one copy"]  # "not much more than one"


def test_solution_2_the_per_occurrence_ranking_shows_rarer_words_the_total_hid():
    rows = table(SOLUTIONS, "per_occurrence")
    text = markdown(SOLUTIONS)
    answer = text[text.index("Most of the words ranked high per occurrence") :]
    answer = answer[: answer.index("## Exercise 3")]
    hidden = {word for row in rows.values() for word in _words(row["hidden by the total (not in its top 15)"])}
    for word in _quoted(answer):
        assert word in hidden, (word, hidden)
    for row in rows.values():
        assert row["share hidden"] > 0.5  # "most of the words"
        assert row["occurrences (median), per occurrence"] < row["occurrences (median), total top 15"] / 2


def test_solution_3_epsilon_changes_conservation_not_the_ranking():
    rows = table(SOLUTIONS, "epsilon")
    spearman, kept = "Spearman with ε = 0.1 over the words", "tokens' share of the logit (median)"
    assert rows["ε = 0.01"][spearman] > 0.95 and rows["ε = 1.0"][spearman] > 0.95  # "almost perfectly"
    assert rows["ε = 0.01"][kept] > rows["ε = 0.1"][kept] > rows["ε = 1.0"][kept]  # "falls as ε grows"
