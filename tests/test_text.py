"""LRP for text (notebook 09): the SpamAssassin loader on a tiny corpus made here, tokens and
sequences, the reference's sequence layers, iNNvestigate against the reference, a planted cue, and
the real corpus where $LRP_SPAM_DIR names it."""

import hashlib
import io
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import analysis, beyond, convert, rules, text, verify
from lrp_helpers import reference as ref
from lrp_helpers.text import SpamDataError, load_spamassassin

# ---------------------------------------------------------------------------------------------
# A tiny corpus in the official layout
# ---------------------------------------------------------------------------------------------

TINY_PARTS = tuple(
    text.Part(part.folder, part.archive, part.label, count) for part, count in zip(text.PARTS, (8, 4, 4, 4, 4))
)


def _message(part: text.Part, index: int) -> bytes:
    word = "offer" if part.label == text.SPAM else "meeting"
    header = f"From: sender{index}@{part.folder}.example\nSubject: {word} number {index}\n"
    body = f"Hello, this is {word} {index} from {part.folder}.\n"
    raw = (header + "\n" + body).encode()
    return raw + b"caf\xe9\n" if index == 1 else raw  # one byte that is not UTF-8


def _messages(part: text.Part) -> dict[str, bytes]:
    """File name -> raw bytes, named NNNNN.<md5> as in the official archives."""
    raws = [_message(part, i) for i in range(1, part.messages + 1)]
    return {f"{i:05d}.{hashlib.md5(raw).hexdigest()}": raw for i, raw in enumerate(raws, start=1)}


def _write_folder(root: Path, part: text.Part) -> None:
    (root / part.folder).mkdir(parents=True)
    for name, raw in _messages(part).items():
        (root / part.folder / name).write_bytes(raw)
    (root / part.folder / "cmds").write_text("mv 00001 00001.x\n")  # the official archives hold one


def _write_archive(root: Path, part: text.Part) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / part.archive, "w:bz2") as tar:
        for name, raw in [*_messages(part).items(), ("cmds", b"mv 00001 00001.x\n")]:
            info = tarfile.TarInfo(f"{part.folder}/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


@pytest.fixture
def tiny_parts(monkeypatch):
    monkeypatch.setattr(text, "PARTS", TINY_PARTS)
    monkeypatch.delenv(text.SPAM_DIR_VARIABLE, raising=False)
    return TINY_PARTS


@pytest.fixture
def unpacked(tmp_path, tiny_parts):
    root = tmp_path / "unpacked"
    for part in tiny_parts:
        _write_folder(root, part)
    return root


@pytest.fixture
def archives(tmp_path, tiny_parts):
    root = tmp_path / "archives"
    for part in tiny_parts:
        _write_archive(root, part)
    return root


def _write_sums(root: Path) -> None:
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root)}"
        for path in sorted(root.glob("*/0*"))
    ]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def test_reads_the_unpacked_layout(unpacked):
    corpus = load_spamassassin(unpacked)
    everything = len(corpus.train) + len(corpus.test)
    assert everything == 24 and corpus.source == unpacked
    assert corpus.verified == "MD5 of 24 messages against their file names"
    labels = np.concatenate([corpus.train.labels, corpus.test.labels])
    assert (labels == text.SPAM).sum() == 8
    first = (corpus.train.names + corpus.test.names).index(
        next(name for name in corpus.train.names + corpus.test.names if name.startswith("easy_ham/00001."))
    )
    headers, bodies = corpus.train.headers + corpus.test.headers, corpus.train.bodies + corpus.test.bodies
    assert headers[first] == "From: sender1@easy_ham.example\nSubject: meeting number 1"
    assert bodies[first] == "Hello, this is meeting 1 from easy_ham.\ncaf\ufffd\n"  # replacement character
    assert not any("cmds" in name for name in corpus.train.names + corpus.test.names)


def test_archives_give_the_same_corpus_and_split(unpacked, archives):
    from_folders, from_archives = load_spamassassin(unpacked), load_spamassassin(archives)
    assert from_archives.train.names == from_folders.train.names
    assert from_archives.test.bodies == from_folders.test.bodies
    np.testing.assert_array_equal(from_archives.test.labels, from_folders.test.labels)


def test_split_is_stratified_by_part_and_deterministic(unpacked):
    corpus = load_spamassassin(unpacked, test_share=0.25, seed=5)
    test_parts = [name.split("/")[0] for name in corpus.test.names]
    assert {part.folder: test_parts.count(part.folder) for part in TINY_PARTS} == {
        "easy_ham": 2,
        "hard_ham": 1,
        "spam": 1,
        "easy_ham_2": 1,
        "spam_2": 1,
    }
    assert load_spamassassin(unpacked, seed=5).test.names == corpus.test.names
    assert load_spamassassin(unpacked, seed=6).test.names != corpus.test.names
    assert not set(corpus.train.names) & set(corpus.test.names)


def test_checksums_pass_and_a_corrupt_file_is_caught(unpacked):
    _write_sums(unpacked)
    assert load_spamassassin(unpacked).verified == "SHA-256 of 24 files (SHA256SUMS)"
    victim = next((unpacked / "spam").iterdir())
    victim.write_bytes(victim.read_bytes() + b"tampered")
    with pytest.raises(SpamDataError, match=rf"{victim.name} is corrupt: its SHA-256 is .*To fix it"):
        load_spamassassin(unpacked)


def test_file_listed_in_checksums_but_missing(unpacked):
    _write_sums(unpacked)
    with open(unpacked / "SHA256SUMS", "a") as file:
        file.write("0" * 64 + "  spam/00099.missing\n")
    with pytest.raises(SpamDataError, match="spam/00099.missing is listed"):
        load_spamassassin(unpacked)


def test_a_message_that_does_not_match_its_md5_name(unpacked):
    victim = sorted((unpacked / "hard_ham").glob("0*"))[0]
    victim.write_bytes(victim.read_bytes().replace(b"Hello", b"Howdy"))
    with pytest.raises(SpamDataError, match=rf"1 messages .* do not match the MD5 .*hard_ham/{victim.name}"):
        load_spamassassin(unpacked)


def test_a_corrupt_archive_member_is_caught(tmp_path, archives):
    with tarfile.open(archives / "20021010_spam.tar.bz2") as tar:
        members = [(info, tar.extractfile(info).read()) for info in tar]
    with tarfile.open(archives / "20021010_spam.tar.bz2", "w:bz2") as tar:
        for info, raw in members:
            raw = raw.replace(b"offer", b"0ffer")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(SpamDataError, match="do not match the MD5"):
        load_spamassassin(archives)


def test_truncated_archive_is_reported(archives):
    path = archives / "20030228_spam_2.tar.bz2"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SpamDataError, match=r"20030228_spam_2.tar.bz2 is not a readable .tar.bz2 archive.*To fix it"):
        load_spamassassin(archives)


def test_wrong_message_count_is_reported(unpacked):
    next((unpacked / "spam_2").glob("0*")).unlink()
    with pytest.raises(SpamDataError, match="spam_2 in .* holds 3 messages, expected 4"):
        load_spamassassin(unpacked)


def test_missing_folder_names_it_and_says_how_to_fix(tmp_path, tiny_parts):
    missing = tmp_path / "nowhere"
    with pytest.raises(SpamDataError) as error:
        load_spamassassin(missing)
    message = str(error.value)
    assert str(missing) in message and "does not exist" in message
    assert text.DOWNLOAD_URL in message and text.SPAM_DIR_VARIABLE in message
    assert all(part.archive in message for part in tiny_parts)


def test_incomplete_folder_lists_what_is_missing(unpacked):
    shutil.rmtree(unpacked / "hard_ham")
    with pytest.raises(
        SpamDataError,
        match=r"incomplete: it has neither the archive nor the unpacked folder of "
        r"20021010_hard_ham.tar.bz2\. To fix it",
    ):
        load_spamassassin(unpacked)


def test_environment_variable_is_used_and_the_argument_wins(unpacked, archives, tmp_path, monkeypatch):
    monkeypatch.setenv(text.SPAM_DIR_VARIABLE, str(archives))
    assert load_spamassassin().source == archives
    assert load_spamassassin(unpacked).source == unpacked
    monkeypatch.setenv(text.SPAM_DIR_VARIABLE, str(tmp_path / "broken"))
    with pytest.raises(SpamDataError, match=r"\$LRP_SPAM_DIR"):
        load_spamassassin()


def test_cache_is_used_when_nothing_else_is_given(unpacked, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / text.CACHE_FOLDER).parent.mkdir(parents=True)
    unpacked.rename(home / text.CACHE_FOLDER)
    monkeypatch.setenv("HOME", str(home))
    assert load_spamassassin().source == home / text.CACHE_FOLDER


def test_nothing_found_and_no_download(tmp_path, tiny_parts, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SpamDataError, match="downloading is switched off.*To fix it, download the five archives"):
        load_spamassassin(download=False)


def test_failed_download_gives_the_clear_error(tmp_path, tiny_parts, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tf.keras.utils, "get_file", no_network)
    with pytest.raises(
        SpamDataError, match="download of 20021010_easy_ham.tar.bz2 failed .*no route to host.*To fix it"
    ):
        load_spamassassin()


def test_download_fetches_the_official_archives_into_the_cache(archives, tmp_path, monkeypatch):
    fetched = []

    def from_mirror(name, origin, untar, file_hash, cache_subdir):  # Keras's get_file, from a local mirror
        fetched.append(origin)
        target = tmp_path / "home" / ".keras" / cache_subdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archives / origin.rsplit("/", 1)[1], target)
        return str(target)

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tf.keras.utils, "get_file", from_mirror)
    corpus = load_spamassassin()
    assert fetched == [text.DOWNLOAD_URL + part.archive for part in TINY_PARTS]
    assert corpus.source == tmp_path / "home" / text.CACHE_FOLDER
    assert len(corpus.train) + len(corpus.test) == 24


# ---------------------------------------------------------------------------------------------
# Tokens, vocabulary, sequences
# ---------------------------------------------------------------------------------------------


def test_tokenize():
    assert text.tokenize("Save $500 NOW!!! Visit www.Example.com, don't wait") == [
        "save",
        "$",
        "500",
        "now",
        "!",
        "!",
        "!",
        "visit",
        "www.example.com",
        "don't",
        "wait",
    ]
    assert text.tokenize("a b c d", limit=2) == ["a", "b"]
    assert text.tokenize("x" * 100) == ["x" * text.MAX_TOKEN_CHARS]


def test_message_tokens_put_the_header_first_and_count_it():
    tokens, in_header = text.message_tokens("body words here", "Subject: hi", length=4)
    assert tokens == ["subject", "hi", "body", "words"] and in_header == 2
    assert text.message_tokens("body words here", length=4) == (["body", "words", "here"], 0)


def test_vocabulary_and_encoding():
    documents = [["spam", "ham", "eggs"], ["spam", "ham"], ["spam", "once"]]
    vocabulary = text.Vocabulary.build(documents, extra=("cue",))
    assert vocabulary.words == [text.PAD, text.UNKNOWN, "spam", "ham", "cue"]  # "eggs", "once": one document
    sequences = text.encode(vocabulary, ["ham spam never"], ["Spam header"], length=6)
    np.testing.assert_array_equal(sequences.ids, [[2, 1, 3, 2, 1, 0]])
    np.testing.assert_array_equal(sequences.in_header, [[True, True, False, False, False, False]])
    assert sequences.tokens == [["spam", "header", "ham", "spam", "never"]]


def test_plant_token_inserts_into_the_body_at_the_reported_position():
    vocabulary = text.Vocabulary.build([["a", "b", "c", "h"]] * 2, extra=("cue",))
    sequences = text.encode(vocabulary, ["a b c", "a b c a b c"], ["h h", "h"], length=7)
    planted, positions = text.plant_token(sequences, [0, 1], "cue", vocabulary, seed=0)
    for row in range(2):
        position = positions[row]
        assert planted.ids[row, position] == vocabulary.ids["cue"] and planted.tokens[row][position] == "cue"
        assert not planted.in_header[row, position] and position >= sequences.in_header[row].sum()
        remaining = np.delete(planted.ids[row], position)
        np.testing.assert_array_equal(remaining, sequences.ids[row][:-1])  # the rest shifted right by one
    untouched, none = text.plant_token(sequences, [], "cue", vocabulary)
    np.testing.assert_array_equal(untouched.ids, sequences.ids)
    assert (none == -1).all()


# ---------------------------------------------------------------------------------------------
# The reference's sequence layers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_reference_conv1d_matches_keras_and_backward_is_its_transpose(padding):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 11, 4)).astype(np.float32)
    keras_conv = tf.keras.Sequential([tf.keras.Input((11, 4)), tf.keras.layers.Conv1D(6, 5, padding=padding)])
    (layer,) = convert.from_keras(keras_conv).layers
    np.testing.assert_allclose(layer.forward(x), keras_conv.predict(x, verbose=0), atol=1e-5)
    s = rng.normal(size=layer.forward(x).shape)
    assert np.isclose((layer.apply(x, layer.weight) * s).sum(), (x * layer.backward(s, layer.weight)).sum())


def test_reference_global_max_pool_shares_exact_ties():
    a = np.array([[[1.0, 5.0], [3.0, 5.0], [3.0, 2.0]]])  # channel 0: a tie of 3s; channel 1: a tie of 5s
    layer = ref.GlobalMaxPool1D()
    np.testing.assert_array_equal(layer.forward(a), [[3.0, 5.0]])
    np.testing.assert_array_equal(layer.relevance(a, np.array([[2.0, 4.0]])), [[[0, 2], [1, 2], [1, 0]]])


def test_reference_embedding_zeroes_padding_and_sums_dimensions():
    layer = ref.Embedding(np.arange(12.0).reshape(4, 3), padding_id=0)
    np.testing.assert_array_equal(layer.forward(np.array([[2, 0]])), [[[6, 7, 8], [0, 0, 0]]])
    np.testing.assert_array_equal(layer.relevance(None, np.ones((1, 2, 3))), [[3, 3]])


# ---------------------------------------------------------------------------------------------
# A small trained text CNN: iNNvestigate against the reference, conservation, a planted cue
# ---------------------------------------------------------------------------------------------

LENGTH = 40


def _synthetic_mail(n: int, seed: int):
    """Bodies of random filler words; spam also draws from 'spam words', ham from 'ham words'."""
    rng = np.random.default_rng(seed)
    filler = [f"w{i}" for i in range(150)]
    labels = np.arange(n) % 2
    bodies = []
    for label in labels:
        words = list(rng.choice(filler, size=30))
        special = [f"spamword{i}" for i in range(5)] if label == text.SPAM else [f"hamword{i}" for i in range(5)]
        for _ in range(2):
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(special)))
        bodies.append(" ".join(words))
    return bodies, labels


@pytest.fixture(scope="module")
def trained():
    bodies, labels = _synthetic_mail(600, seed=0)
    vocabulary = text.Vocabulary.build([text.tokenize(body) for body in bodies], extra=("cue",))
    sequences = text.encode(vocabulary, bodies, length=LENGTH)
    tf.keras.utils.set_random_seed(0)
    model = text.text_cnn(len(vocabulary), length=LENGTH, dims=8, filters=16)
    text.train_text_cnn(model, sequences, labels, epochs=8, batch_size=32, learning_rate=5e-3)
    return model, vocabulary, sequences, labels


def test_centring_the_logits_keeps_the_probabilities():
    tf.keras.utils.set_random_seed(1)
    model = text.text_cnn(30, length=LENGTH, dims=4, filters=4)
    ids = np.random.default_rng(0).integers(0, 30, size=(5, LENGTH))
    model.get_layer("logits").set_weights([np.random.default_rng(1).normal(size=(4, 2)), np.array([0.3, -0.2])])
    before = model.predict(ids, verbose=0)
    text.centre_logits(model)
    np.testing.assert_allclose(model.predict(ids, verbose=0), before, atol=1e-6)
    kernel, bias = model.get_layer("logits").get_weights()
    np.testing.assert_allclose(kernel[:, 0], -kernel[:, 1], atol=1e-6)
    np.testing.assert_allclose(bias[0], -bias[1], atol=1e-6)


def test_padding_embeds_to_zero_and_gets_no_relevance(trained):
    model, _, sequences, _ = trained
    embedded = text.embed(model, sequences.ids[:4])
    keras_embedded = tf.keras.Model(model.input, model.get_layer("embedding").output).predict(
        sequences.ids[:4], verbose=0
    )
    np.testing.assert_allclose(embedded, keras_embedded, atol=1e-7)
    assert (sequences.ids[:4] == 0).any() and np.all(embedded[sequences.ids[:4] == 0] == 0)
    analyzer = analysis.Analyzer(text.explainable_part(model), rules.Epsilon(0.1), input_range=None)
    relevance = text.token_relevance(analyzer, model, sequences.ids[:4])
    assert np.all(relevance[sequences.ids[:4] == 0] == 0) and np.abs(relevance).max() > 0


@pytest.mark.parametrize(
    "method, rule",
    [
        ("lrp.epsilon", ref.Epsilon(0.1)),
        ("lrp.epsilon", ref.Epsilon(0.01)),
        ("lrp.alpha_1_beta_0_IB", ref.AlphaBeta(1, 0)),
        ("lrp.alpha_2_beta_1_IB", ref.AlphaBeta(2, 1)),
        ("lrp.z_plus", ref.ZPlus()),
    ],
    ids=["eps0.1", "eps0.01", "alpha1beta0", "alpha2beta1", "zplus"],
)
def test_innvestigate_matches_the_reference_at_every_layer(trained, method, rule):
    model, _, sequences, _ = trained
    params = {"epsilon": rule.epsilon} if isinstance(rule, ref.Epsilon) else {}
    part = text.explainable_part(model)
    analyzer = analysis.Analyzer(part, method, native=True, input_range=None, keep_layers=True, **params)
    ids = sequences.ids[:32]
    agreement = verify.compare(analyzer, convert.from_keras(part), rule, text.embed(model, ids), target=text.SPAM)
    assert agreement.images_compared == 32
    assert agreement.layers == ["embedded", "conv", "pool", "dropout", "logits"]
    assert agreement.worst <= 1e-4, dict(zip(agreement.layers, agreement.relative_error))
    per_token = convert.from_keras(model).explain(ids, rule, text.SPAM).input  # embedding lookup in front
    ours = analysis.Analyzer(part, method, native=True, input_range=None, **params)
    theirs = text.token_relevance(ours, model, ids)
    assert np.abs(theirs - per_token).max() <= 1e-4 * np.abs(per_token).max()


def test_lrp_0_conserves_the_logit_without_biases(trained):
    model, _, sequences, _ = trained
    weights = model.get_weights()
    try:
        for name in ("conv", "logits"):
            layer = model.get_layer(name)
            layer.set_weights([layer.get_weights()[0], np.zeros_like(layer.get_weights()[1])])
        analyzer = analysis.Analyzer(text.explainable_part(model), rules.Epsilon(0.0), input_range=None)
        relevance = text.token_relevance(analyzer, model, sequences.ids[:16])
        logits = analyzer.logits(text.embed(model, sequences.ids[:16]))[:, text.SPAM]
        np.testing.assert_allclose(relevance.sum(axis=1), logits, rtol=1e-4, atol=1e-5)
        assert np.abs(logits).min() > 1e-3
    finally:
        model.set_weights(weights)


def test_a_planted_cue_is_found_by_lrp():
    bodies, labels = _synthetic_mail(800, seed=1)
    vocabulary = text.Vocabulary.build([text.tokenize(body) for body in bodies], extra=("cue",))
    sequences = text.encode(vocabulary, bodies, length=LENGTH)
    spam_rows = np.flatnonzero(labels == text.SPAM)
    planted, _ = text.plant_token(sequences, spam_rows[: len(spam_rows) // 2], "cue", vocabulary, seed=0)
    tf.keras.utils.set_random_seed(2)
    model = text.text_cnn(len(vocabulary), length=LENGTH, dims=8, filters=16)
    text.train_text_cnn(model, planted, labels, epochs=8, batch_size=32, learning_rate=5e-3)

    test_bodies, test_labels = _synthetic_mail(100, seed=2)
    test = text.encode(vocabulary, test_bodies, length=LENGTH)
    cued, positions = text.plant_token(test, np.arange(len(test)), "cue", vocabulary, seed=1)
    analyzer = analysis.Analyzer(text.explainable_part(model), rules.Epsilon(0.1), input_range=None)
    relevance = text.token_relevance(analyzer, model, cued.ids)
    mass = beyond.relevance_in_window(relevance, positions, length=1)
    ham = test_labels == text.HAM
    assert np.median(mass[ham]) > 0.3  # one token of about 33: chance is 3%
    assert (relevance.argmax(axis=1) == positions)[ham].mean() > 0.8
    logits = analyzer.logits(text.embed(model, cued.ids[ham]))[:, text.SPAM]
    assert (
        logits - analyzer.logits(text.embed(model, test.ids[ham]))[:, text.SPAM]
    ).min() > 0  # the cue pushes to spam


# ---------------------------------------------------------------------------------------------
# Showing relevance
# ---------------------------------------------------------------------------------------------


def test_tokens_html_colours_and_escapes():
    page = text.tokens_html(["<unk>", "free", "meeting"], np.array([0.0, 2.0, -2.0]))
    assert "&lt;unk&gt;" in page and "<unk>" not in page
    colours = [tuple(map(int, rgb.split(","))) for rgb in re.findall(r"background-color: rgb\(([\d,]+)\)", page)]
    assert len(colours) == 3 and min(colours[0]) >= 250  # no relevance: white
    assert colours[1] == (255, 0, 0) and colours[2] == (0, 0, 255)  # full red for, full blue against


def test_draw_tokens_wraps_and_colours_headless():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0, 1.0))  # room for about 10 characters a line at 8 pt
    text.draw_tokens(ax, ["aaaa", "bbbb", "cccc"], np.array([1.0, 0.0, -1.0]))
    labels = ax.texts
    assert [t.get_text() for t in labels] == ["aaaa", "bbbb", "cccc"]
    assert [t.get_position() for t in labels] == [(0, 0), (5, 0), (0, 1)]  # "cccc" wraps to line 2
    red, white, blue = (t.get_bbox_patch().get_facecolor() for t in labels)
    assert red[0] > 0.9 > red[2] and blue[2] > 0.9 > blue[0] and min(white[:3]) > 0.95
    fig.canvas.draw()
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
def test_a_saved_text_model_loads_only_with_the_vocabulary_it_was_trained_with(tmp_path, monkeypatch):
    from lrp_helpers import models, session

    monkeypatch.setattr(models, "model_path", lambda quick=False, name=models.CLEAN: tmp_path / f"{name}.h5")
    settings = session.Settings(quick=False, seed=0)
    bodies, labels = _synthetic_mail(64, seed=1)
    vocabulary = text.Vocabulary.build([text.tokenize(body) for body in bodies])
    sequences = text.encode(vocabulary, bodies)
    trained = text.trained_text_cnn(text.BODY, vocabulary, sequences, labels, epochs=1, train=True, settings=settings)
    metadata = models.load_metadata(tmp_path / f"{text.BODY}.h5")
    assert metadata["vocabulary"] == text.vocabulary_fingerprint(vocabulary) and metadata["epochs"] == 1
    loaded = text.trained_text_cnn(text.BODY, vocabulary, sequences, labels, epochs=1, train=False, settings=settings)
    np.testing.assert_array_equal(loaded.predict(sequences.ids, verbose=0), trained.predict(sequences.ids, verbose=0))
    other = text.Vocabulary.build([text.tokenize(body) for body in bodies[:32]])
    with pytest.raises(text.VocabularyMismatchError, match=r"another vocabulary.*LRP_RETRAIN=1"):
        text.trained_text_cnn(text.BODY, other, sequences, labels, epochs=1, train=False, settings=settings)


# The real corpus
# ---------------------------------------------------------------------------------------------


def test_the_real_spamassassin_corpus():
    """Found as the notebook finds it ($LRP_SPAM_DIR, the cache, a download); where none works, the
    test fails with the loader's error, which says how to get the data."""
    corpus = load_spamassassin()
    labels = np.concatenate([corpus.train.labels, corpus.test.labels])
    assert len(labels) == 6046 and (labels == text.SPAM).sum() == 1896
    assert len(corpus.test) == sum(round(0.25 * part.messages) for part in text.PARTS)
    assert abs(corpus.train.labels.mean() - corpus.test.labels.mean()) < 0.005
    assert corpus.verified.startswith("SHA-256 of 6046 files") or corpus.verified.startswith("MD5 of 6046")
    assert all(header and not header.startswith("\n") for header in corpus.test.headers[:100])


@pytest.mark.slow
def test_the_committed_text_models_go_with_notebook_09s_vocabulary_and_do_their_jobs():
    """Notebook 09 loads them by default: built as the notebook builds it, the vocabulary must be the
    one they were trained with, the body model must classify, and the planted one must follow the cue."""
    from lrp_helpers import session

    corpus = load_spamassassin()
    cue = text.CUE
    vocabulary = text.corpus_vocabulary(corpus.train.headers, corpus.train.bodies, extra=(cue,))
    body_test = text.encode(vocabulary, corpus.test.bodies)
    settings = session.Settings(quick=False, seed=42)
    loaded = {
        name: text.trained_text_cnn(name, vocabulary, body_test, corpus.test.labels, 5, train=False, settings=settings)
        for name in (text.BODY, text.WHOLE, text.PLANTED)
    }
    whole_test = text.encode(vocabulary, corpus.test.bodies, corpus.test.headers)
    for name, sequences in ((text.BODY, body_test), (text.WHOLE, whole_test)):
        predictions = loaded[name].predict(sequences.ids, verbose=0).argmax(axis=1)
        assert (predictions == corpus.test.labels).mean() > 0.9, name
    ham = corpus.test.labels == text.HAM
    cued, _ = text.plant_token(body_test, np.arange(len(body_test)), cue, vocabulary, seed=3)  # as notebook 09
    called_spam = {
        name: (loaded[name].predict(cued.ids[ham], verbose=0).argmax(axis=1) == text.SPAM).mean()
        for name in (text.BODY, text.PLANTED)
    }
    # Measured on the committed models: 9.6% against 0.8%.
    assert called_spam[text.PLANTED] > 5 * called_spam[text.BODY], called_spam


def test_occlusion_gives_exactly_zero_where_a_token_changes_no_pooled_value():
    """A token outside every filter's winning window changes nothing the logits see, so its drop must be 0,
    not float32 noise from computing the message and its copies in batches of different sizes: where float32
    kernels sum differently per batch size, an unchanged logit differs by rounding (notebook 09 counts a
    drop as 0 up to a millionth of the message's largest, so its share does not depend on the kernels)."""
    tf.keras.utils.set_random_seed(3)
    model = text.text_cnn(500)
    ids = np.random.default_rng(3).integers(2, 500, size=(2, text.SEQUENCE_LENGTH))
    ids[:, 300:] = text.PADDING_ID
    part = text.explainable_part(model)
    with analysis.Analyzer(part, rules.Epsilon(0.1), input_range=None) as analyzer:
        drops = text.occlusion(analyzer, model, ids)
    pooled = convert.from_keras(part).forward  # float64: which tokens change a max-pooled value at all
    unchanged = []
    for row in range(len(ids)):
        embedded = text.embed(model, ids[row : row + 1]).astype(np.float64)
        original = pooled(embedded)[3]  # conv, its ReLU, then the global max-pooling's output
        for position in np.flatnonzero(ids[row]):
            occluded = embedded.copy()
            occluded[0, position] = 0
            if np.array_equal(pooled(occluded)[3], original):
                unchanged.append(drops[row, position])
    assert len(unchanged) > 100 and np.all(np.array(unchanged) == 0), np.count_nonzero(unchanged)
    assert np.all(drops[ids == text.PADDING_ID] == 0)


def test_filter_maxima_and_winning_windows_follow_the_network(trained):
    """The pooled values equal the network's own; every filter with a positive maximum has its winning
    window marked, padding never is; and removing a token outside every winning window leaves those windows
    as they are, so it can only raise a maximum (by lifting another window over it), never lower one."""
    model, _, sequences, _ = trained
    ids = sequences.ids[:6]
    maxima, winners = text.filter_maxima(model, ids)
    pooled = tf.keras.Model(model.input, model.get_layer("pool").output).predict(ids, verbose=0)
    np.testing.assert_allclose(maxima, pooled, rtol=1e-5, atol=1e-6)
    inside = text.winning_windows(model, ids)
    assert not inside[ids == text.PADDING_ID].any()
    for row, column in zip(*np.nonzero(maxima > 0)):
        assert inside[row, winners[row, column]] or ids[row, winners[row, column]] == text.PADDING_ID
    outside = 0
    for row in range(len(ids)):
        for position in np.flatnonzero((ids[row] != text.PADDING_ID) & ~inside[row]):
            occluded = ids[row : row + 1].copy()
            occluded[0, position] = text.PADDING_ID
            assert np.all(text.filter_maxima(model, occluded)[0] >= maxima[row : row + 1]), (row, position)
            outside += 1
    assert outside > 10
