"""Notebook 10's transformer text classifier (lrp_helpers.transformer): a small one trains and is saved and loaded
with its vocabulary; the committed models load on this stack and do their jobs on the real corpus ($LRP_SPAM_DIR):
the clean one classifies, the planted one follows notebook 09's cue."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import models, session, text, transformer


def _mail(n: int, seed: int, length: int) -> tuple[text.Vocabulary, text.Sequences, np.ndarray]:
    """Bodies of random filler words; each spam also holds "offer", each ham "meeting"."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    bodies = [
        " ".join([*rng.choice([f"w{i}" for i in range(30)], size=rng.integers(3, length)), "offer" if y else "meeting"])
        for y in labels
    ]
    vocabulary = text.Vocabulary.build([text.tokenize(body) for body in bodies])
    return vocabulary, text.encode(vocabulary, bodies, length=length), labels


def test_a_small_transformer_trains_and_its_logits_end_centred():
    vocabulary, sequences, labels = _mail(64, seed=0, length=12)
    tf.keras.utils.set_random_seed(0)
    model = transformer.text_transformer(len(vocabulary), length=12, dims=8, heads=2, hidden=16)
    before = model.get_weights()
    accuracy = transformer.train_text_transformer(model, sequences, labels, epochs=2, batch_size=16)
    assert 0 <= accuracy <= 1
    unchanged = [w.name for w, old, new in zip(model.weights, before, model.get_weights()) if np.array_equal(old, new)]
    assert not unchanged, f"not trained: {unchanged}"
    kernel, bias = model.get_layer("logits").get_weights()
    np.testing.assert_allclose(kernel.sum(axis=1), 0, atol=1e-6)
    assert abs(bias.sum()) < 1e-6


def test_a_saved_transformer_records_its_test_accuracy_and_loads_only_with_its_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "model_path", lambda quick=False, name=models.CLEAN: tmp_path / f"{name}.h5")
    settings = session.Settings(quick=False, seed=0)
    vocabulary, sequences, labels = _mail(64, seed=1, length=transformer.LENGTH)
    _, test, test_labels = _mail(32, seed=2, length=transformer.LENGTH)
    arguments = (transformer.CLEAN, vocabulary, sequences, labels, 1)
    trained = transformer.trained_text_transformer(*arguments, train=True, settings=settings, test=(test, test_labels))
    metadata = models.load_metadata(tmp_path / f"{transformer.CLEAN}.h5")
    assert metadata["vocabulary"] == text.vocabulary_fingerprint(vocabulary) and metadata["epochs"] == 1
    assert metadata["test_accuracy"] == models.accuracy(trained, test.ids, test_labels)
    loaded = transformer.trained_text_transformer(*arguments, train=False, settings=settings)
    np.testing.assert_array_equal(loaded.predict(sequences.ids, verbose=0), trained.predict(sequences.ids, verbose=0))
    other = text.Vocabulary(vocabulary.words[:-1])
    with pytest.raises(text.VocabularyMismatchError, match=r"another vocabulary.*LRP_RETRAIN=1"):
        transformer.trained_text_transformer(transformer.CLEAN, other, sequences, labels, 1, train=False)
    with pytest.raises(FileNotFoundError, match=r"missing.*LRP_RETRAIN=1"):
        transformer.trained_text_transformer(transformer.PLANTED, vocabulary, sequences, labels, 1, train=False)


# ---------------------------------------------------------------------------------------------
# The committed models on the real corpus
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed():
    """Notebook 09's vocabulary and test bodies (at the transformer's length), the test bodies with the cue planted
    as notebook 09 plants it, and the two committed models, loaded as notebook 10 loads them."""
    corpus = text.load_spamassassin()
    vocabulary = text.corpus_vocabulary(corpus.train.headers, corpus.train.bodies, extra=(text.CUE,))
    test = text.encode(vocabulary, corpus.test.bodies, length=transformer.LENGTH)
    cued, _ = text.plant_token(test, np.arange(len(test)), text.CUE, vocabulary, seed=3)
    loaded = {
        name: transformer.trained_text_transformer(name, vocabulary, test, corpus.test.labels, 1, train=False)
        for name in (transformer.CLEAN, transformer.PLANTED)
    }
    return loaded, test, cued, corpus.test.labels


def _predictions(model, sequences):
    return model.predict(sequences.ids, verbose=0, batch_size=256).argmax(axis=1)


def _spam_logits(model, sequences):
    return transformer.logits_model(model).predict(sequences.ids, verbose=0, batch_size=256)[:, text.SPAM]


@pytest.mark.slow
def test_the_committed_transformers_classify_on_this_stack_as_when_trained(committed):
    """Trained on the classic stack, they must predict the same here: each one's test accuracy is the one its
    metadata recorded when it was trained, up to a message whose decision float rounding may flip."""
    loaded, test, _, labels = committed
    for name, model in loaded.items():
        accuracy = (_predictions(model, test) == labels).mean()
        recorded = models.load_metadata(models.model_path(name=name))["test_accuracy"]
        assert abs(accuracy - recorded) <= 1 / len(labels), (name, accuracy, recorded)


@pytest.mark.slow
def test_the_clean_transformer_is_as_good_as_notebook_09s_cnn(committed):
    """Measured: 98.4% (notebook 09's body-only CNN: 98.3%). Retrained from other seeds, the recipe's models
    (clean and planted) reached 98.4-98.8%; the floor, 97.5%, leaves twice that spread below the committed model
    for a model retrained on another machine or stack (make all)."""
    loaded, test, _, labels = committed
    assert (_predictions(loaded[transformer.CLEAN], test) == labels).mean() >= 0.975


@pytest.mark.slow
def test_the_cue_pushes_ham_towards_spam_in_the_planted_transformer_not_in_the_clean_one(committed):
    """Per ham test message, the rise of the spam logit when the cue is planted. To the clean model the cue is a
    word never seen in training; the planted one learnt it. Median rise, measured on the committed models: 0.077
    against 0.0075, ten times as much (from seeds 42-44 the recipe's planted models rose 7 to 17 times as much as
    the committed clean one); the floor is four times. Enough to tip a few ham messages over: the planted model
    calls 13 of the 1,037 ham messages spam with the cue, 11 without (from seeds 42-44: 13 and 9, 7 and 6, 8 and 5)."""
    loaded, test, cued, labels = committed
    ham = labels == text.HAM
    spam_logits = {
        name: (_spam_logits(model, test)[ham], _spam_logits(model, cued)[ham]) for name, model in loaded.items()
    }
    medians = {name: np.median(with_cue - without) for name, (without, with_cue) in spam_logits.items()}
    assert medians[transformer.PLANTED] > 4 * abs(medians[transformer.CLEAN]), medians
    without, with_cue = spam_logits[transformer.PLANTED]
    assert (with_cue > 0).sum() > (without > 0).sum(), "ham called spam by the planted model: no more with the cue"
