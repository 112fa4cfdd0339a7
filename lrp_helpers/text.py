"""LRP for text (notebook 09): the SpamAssassin public mail corpus, tokens, a small 1-D CNN, and
relevance per token.

The corpus: 6,046 raw e-mails (4,150 ham, 1,896 spam) in five official archives from
https://spamassassin.apache.org/old/publiccorpus/. `load_spamassassin` reads the archives or the
folders they unpack to, verifies what can be verified, and splits deterministically.

The network starts with an Embedding: integer token ids have no gradient, so LRP explains the
*embedded* sequence (`explainable_part`) and sums the relevance over the embedding dimensions to
get one number per token (`token_relevance`).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import re
import tarfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import models, sources
from .beyond import fit_classifier
from .settings import SPAM_DIR_VARIABLE, current_settings, project_root

DOWNLOAD_URL = "https://spamassassin.apache.org/old/publiccorpus/"
CACHE_FOLDER = Path(".keras") / "datasets" / "spamassassin"  # under the home folder
CLASS_NAMES = ("ham", "spam")
HAM, SPAM = 0, 1
MESSAGE_NAME = re.compile(r"^\d{5}\.([0-9a-f]{32})$")  # NNNNN.<MD5 of the message's bytes>


@dataclass(frozen=True)
class Part:
    """One official archive and the folder it unpacks to."""

    folder: str
    archive: str
    label: int
    messages: int


PARTS = (
    Part("easy_ham", "20021010_easy_ham.tar.bz2", HAM, 2500),
    Part("hard_ham", "20021010_hard_ham.tar.bz2", HAM, 250),
    Part("spam", "20021010_spam.tar.bz2", SPAM, 500),
    Part("easy_ham_2", "20030228_easy_ham_2.tar.bz2", HAM, 1400),
    Part("spam_2", "20030228_spam_2.tar.bz2", SPAM, 1396),
)


class SpamDataError(RuntimeError):
    """The corpus is missing, incomplete or corrupt. The message says where we looked and how to fix it."""


@dataclass
class Mails:
    """Messages split at the first empty line into header and body (decoded as UTF-8, with
    replacement characters for bytes that are not UTF-8)."""

    headers: list[str]
    bodies: list[str]
    labels: np.ndarray  # 0 ham, 1 spam
    names: list[str]  # "<folder>/<file name>"

    def __len__(self):
        return len(self.labels)

    def take(self, indices) -> Mails:
        indices = np.asarray(indices, dtype=np.int64)
        return Mails(
            [self.headers[i] for i in indices],
            [self.bodies[i] for i in indices],
            self.labels[indices],
            [self.names[i] for i in indices],
        )


@dataclass
class MailCorpus:
    train: Mails
    test: Mails
    source: Path
    verified: str  # what was checked, e.g. "SHA-256 of 6046 files (SHA256SUMS)"
    class_names: tuple[str, ...] = CLASS_NAMES


def load_spamassassin(
    data_dir: str | Path | None = None, test_share: float = 0.25, seed: int = 0, download: bool = True
) -> MailCorpus:
    """Load the SpamAssassin public corpus, looking in this order:

    1. `data_dir`, if given;
    2. the folder named by the environment variable ``LRP_SPAM_DIR``;
    3. the download cache, ``~/.keras/datasets/spamassassin``;
    4. a download of the five official archives into that cache (`download=False` skips it).

    The folder holds, for each of the five parts, either the official archive
    (``20021010_easy_ham.tar.bz2``, ...) or the folder it unpacks to (``easy_ham/``, ...).
    Verified: a ``SHA256SUMS`` file in the folder, if present, for every file it lists; otherwise
    each message's MD5 against its file name (``NNNNN.<md5>``, true of every official message);
    and the number of messages per part. The test split is stratified by part (so by class too)
    and deterministic for a given `seed`.
    """
    folder = sources.locate(SOURCE, data_dir, download)
    names, raw, parts = [], [], []
    for index, part in enumerate(PARTS):
        messages = _read_part(folder, part)
        if len(messages) != part.messages:
            raise SpamDataError(
                f"{part.folder} in {folder} holds {len(messages)} messages, expected "
                f"{part.messages}. {_how_to_fix(folder)}"
            )
        names += [name for name, _ in messages]
        raw += [content for _, content in messages]
        parts += [index] * len(messages)
    verified = _verify(folder, names, raw)
    headers, bodies = zip(*(split_message(content) for content in raw))
    labels = np.array([PARTS[p].label for p in parts], dtype=np.int64)
    everything = Mails(list(headers), list(bodies), labels, names)
    train, test = stratified_split(np.array(parts), test_share, seed)
    return MailCorpus(everything.take(train), everything.take(test), folder, verified)


def split_message(raw: bytes) -> tuple[str, str]:
    """Decode a raw RFC-822 message (UTF-8, replacement characters for other bytes) and split it
    at the first empty line into header and body."""
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    header, _, body = text.partition("\n\n")
    return header, body


def stratified_split(groups: np.ndarray, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices; each group contributes round(test_share * size) test items,
    chosen at random with `seed`."""
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be between 0 and 1, got {test_share}")
    rng = np.random.default_rng(seed)
    test = []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        test.append(rng.choice(members, size=int(round(test_share * len(members))), replace=False))
    test = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(groups)), test), test


def _how_to_fix(folder: Path | None) -> str:
    target = folder if folder is not None else Path.home() / CACHE_FOLDER
    archives = ", ".join(part.archive for part in PARTS)
    return (
        f"To fix it, download the five archives {archives} from {DOWNLOAD_URL} into one folder "
        f"(unpacking them there is optional) and either make that folder {target} or set the "
        f"environment variable {SPAM_DIR_VARIABLE}=/path/to/that/folder (or pass data_dir=...)."
    )


def _missing(folder: Path) -> str | None:
    missing = [
        part.archive for part in PARTS if not (folder / part.folder).is_dir() and not (folder / part.archive).is_file()
    ]
    return f"it has neither the archive nor the unpacked folder of {', '.join(missing)}" if missing else None


SOURCE = sources.Source(
    title="SpamAssassin corpus",
    folder_title="SpamAssassin folder",
    variable=SPAM_DIR_VARIABLE,
    cache_folder=CACHE_FOLDER.name,
    error=SpamDataError,
    how_to_fix=_how_to_fix,
    missing=_missing,
    downloads=lambda: tuple(sources.Download(part.archive, DOWNLOAD_URL + part.archive) for part in PARTS),
)


def _read_part(folder: Path, part: Part) -> list[tuple[str, bytes]]:
    """(name, raw bytes) of every message of one part, sorted by name; the archive's `cmds` file
    and anything else that is not a message are skipped."""
    unpacked = folder / part.folder
    if unpacked.is_dir():
        return [
            (f"{part.folder}/{path.name}", path.read_bytes())
            for path in sorted(unpacked.iterdir())
            if MESSAGE_NAME.match(path.name)
        ]
    archive = folder / part.archive
    messages = []
    try:
        with tarfile.open(archive, "r:bz2") as tar:
            for member in tar:
                top, _, name = member.name.partition("/")
                if member.isfile() and top == part.folder and MESSAGE_NAME.match(name):
                    messages.append((member.name, tar.extractfile(member).read()))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise SpamDataError(
            f"{archive} is not a readable .tar.bz2 archive ({type(error).__name__}: {error}). " + _how_to_fix(folder)
        ) from error
    return sorted(messages)


def _verify(folder: Path, names: list[str], raw: list[bytes]) -> str:
    checked = sources.verify_sha256sums(SOURCE, folder, dict(zip(names, raw)))
    if checked is not None:
        return f"SHA-256 of {checked} files (SHA256SUMS)"
    wrong = [
        name
        for name, content in zip(names, raw)
        if hashlib.md5(content).hexdigest() != MESSAGE_NAME.match(name.rsplit("/", 1)[1]).group(1)
    ]
    if wrong:
        raise SpamDataError(
            f"{len(wrong)} messages in {folder} do not match the MD5 in their file name (first: {wrong[0]}); "
            f"every message of the official archives does, so these are corrupt or re-encoded. If the folder "
            f"is a re-encoded copy on purpose, put a SHA256SUMS file of its files beside them. {_how_to_fix(folder)}"
        )
    return f"MD5 of {len(names)} messages against their file names"


# ---------------------------------------------------------------------------------------------
# Tokens, vocabulary, sequences
# ---------------------------------------------------------------------------------------------

# Lower-cased runs of letters and digits, joined by . _ ' - inside a word (so "spamassassin.taint.org"
# and "don't" stay one token), and "$" and "!" as tokens of their own.
TOKEN = re.compile(r"[a-z0-9]+(?:[._'-][a-z0-9]+)*|[$!]")
MAX_TOKEN_CHARS = 30  # longer tokens (base64 lines, long URLs) are cut; they are rare words anyway
SEQUENCE_LENGTH = 512  # tokens per message the network sees; the rest is cut off
PAD, UNKNOWN = "<pad>", "<unk>"
PADDING_ID, UNKNOWN_ID = 0, 1
CUE = "xqzzy"  # the planted-cue experiment's made-up word (notebook 09, section 5): in no message


def tokenize(text: str, limit: int | None = None) -> list[str]:
    """The tokens of `text` (the first `limit` of them, if given)."""
    matches = itertools.islice(TOKEN.finditer(text.lower()), limit)
    return [match.group()[:MAX_TOKEN_CHARS] for match in matches]


def message_tokens(body: str, header: str | None = None, length: int = SEQUENCE_LENGTH) -> tuple[list[str], int]:
    """The first `length` tokens of the header (if given) followed by the body, and how many of
    them come from the header."""
    header_tokens = tokenize(header, length) if header is not None else []
    return header_tokens + tokenize(body, length - len(header_tokens)), len(header_tokens)


@dataclass
class Vocabulary:
    """Words by id: 0 is padding, 1 stands for every word not in the vocabulary."""

    words: list[str]

    def __post_init__(self):
        self.ids = {word: i for i, word in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    @classmethod
    def build(cls, token_lists, size: int = 20_000, min_documents: int = 2, extra: tuple[str, ...] = ()):
        """The `size` words found in the most documents (at least `min_documents`; ties broken
        alphabetically, so the result is deterministic), plus the `extra` words."""
        documents = Counter(word for tokens in token_lists for word in set(tokens))
        frequent = sorted(
            (word for word, n in documents.items() if n >= min_documents), key=lambda word: (-documents[word], word)
        )
        words = [PAD, UNKNOWN] + [word for word in frequent if word not in extra][: size - 2 - len(extra)]
        return cls(words + list(extra))

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.ids.get(token, UNKNOWN_ID) for token in tokens]


@dataclass
class Sequences:
    """Messages as padded rows of token ids, ready for the network."""

    ids: np.ndarray  # (N, length) int32; 0 = padding, at the end
    in_header: np.ndarray  # (N, length) bool: the token comes from the message's header
    tokens: list[list[str]]  # the words behind the non-padding ids (unknown words as they were)

    def __len__(self):
        return len(self.ids)


def encode(vocabulary: Vocabulary, bodies, headers=None, length: int = SEQUENCE_LENGTH) -> Sequences:
    """Token ids of each message: header then body if `headers` are given, else the body only."""
    ids = np.zeros((len(bodies), length), dtype=np.int32)
    in_header = np.zeros((len(bodies), length), dtype=bool)
    all_tokens = []
    for row, body in enumerate(bodies):
        tokens, header_count = message_tokens(body, None if headers is None else headers[row], length)
        ids[row, : len(tokens)] = vocabulary.encode(tokens)
        in_header[row, :header_count] = True
        all_tokens.append(tokens)
    return Sequences(ids, in_header, all_tokens)


def plant_token(
    sequences: Sequences, rows, token: str, vocabulary: Vocabulary, seed: int = 0
) -> tuple[Sequences, np.ndarray]:
    """A copy with `token` inserted at a random position among the words of each row in `rows`
    (later words shift right; a full row loses its last word). Returns the copy and, per message,
    the position of the planted token (-1 where none was planted)."""
    rng = np.random.default_rng(seed)
    ids, in_header, tokens = sequences.ids.copy(), sequences.in_header.copy(), [list(t) for t in sequences.tokens]
    positions = np.full(len(ids), -1)
    length = ids.shape[1]
    for row in np.asarray(rows, dtype=np.int64):
        words = len(tokens[row])
        first = int(in_header[row].sum())  # plant into the body, after any header tokens
        position = int(rng.integers(first, min(words, length - 1) + 1))
        ids[row, position + 1 :] = ids[row, position:-1].copy()
        ids[row, position] = vocabulary.ids[token]
        in_header[row, position + 1 :] = in_header[row, position:-1].copy()
        in_header[row, position] = False
        tokens[row] = (tokens[row][:position] + [token] + tokens[row][position:])[:length]
        positions[row] = position
    return Sequences(ids, in_header, tokens), positions


def plant_cue_in_spam(
    sequences: Sequences, labels: np.ndarray, vocabulary: Vocabulary, rng: np.random.Generator, share: float = 0.25
) -> Sequences:
    """Notebook 09's planted training set: `CUE` inserted (`plant_token`) into a `share` of the spam
    messages, chosen at random with `rng`."""
    spam_rows = np.flatnonzero(labels == SPAM)
    planted_rows = np.sort(rng.choice(spam_rows, size=int(round(share * len(spam_rows))), replace=False))
    return plant_token(sequences, planted_rows, CUE, vocabulary, seed=2)[0]


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


def text_cnn(
    vocabulary_size: int,
    length: int = SEQUENCE_LENGTH,
    dims: int = 32,
    filters: int = 64,
    width: int = 5,
    dropout: float = 0.5,
):
    """Embedding -> Conv1D (ReLU) -> global max-pooling -> dropout -> Dense (logits) -> softmax.

    Each filter detects one pattern of `width` consecutive words; global max-pooling keeps its
    strongest occurrence anywhere in the message. Padding embeds to the zero vector, so it
    contributes nothing and carries no relevance.
    """
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(length,), dtype="int32", name="token_ids"),
            PaddedEmbedding(vocabulary_size, dims, name="embedding"),
            layers.Conv1D(filters, width, padding="same", activation="relu", name="conv"),
            layers.GlobalMaxPooling1D(name="pool"),
            layers.Dropout(dropout, name="dropout"),
            layers.Dense(2, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="text_cnn",
    )


@tf.keras.utils.register_keras_serializable(package="lrp_helpers")
class PaddedEmbedding(tf.keras.layers.Embedding):
    """An Embedding that maps the padding id (0) to the zero vector, whatever its table row holds."""

    def call(self, inputs):
        return super().call(inputs) * tf.cast(tf.not_equal(inputs, PADDING_ID), self.compute_dtype)[..., None]

    def get_config(self):
        return {**super().get_config(), "padding_id": PADDING_ID}

    @classmethod
    def from_config(cls, config):
        config.pop("padding_id", None)
        return super().from_config(config)


def train_text_cnn(
    model, sequences: Sequences, labels: np.ndarray, epochs: int, batch_size: int = 64, learning_rate: float = 2e-3
) -> float:
    """Train with Adam and cross-entropy, then centre the logits (`centre_logits`). Returns the
    final training accuracy."""

    accuracy = fit_classifier(model, sequences.ids, labels, epochs, batch_size, learning_rate)
    centre_logits(model)
    return accuracy


def corpus_vocabulary(headers, bodies, extra: tuple[str, ...] = ()) -> Vocabulary:
    """One vocabulary for both of notebook 09's inputs: the words of each whole message (header and
    body) and of its body alone, so the body-only and the whole-message model share word ids."""
    return Vocabulary.build(
        [message_tokens(body, header)[0] + message_tokens(body)[0] for header, body in zip(headers, bodies)],
        extra=extra,
    )


BODY, WHOLE, PLANTED = "text_body", "text_whole", "text_planted"  # notebook 09's three models, by file name


class VocabularyMismatchError(ValueError):
    """A saved text model was trained with another vocabulary than the one it is loaded with."""


def vocabulary_fingerprint(vocabulary: Vocabulary) -> str:
    """A short hash of the words in id order: two vocabularies with it equal encode alike."""
    return hashlib.sha256("\n".join(vocabulary.words).encode()).hexdigest()[:16]


def trained_text_cnn(
    name: str, vocabulary: Vocabulary, sequences: Sequences, labels: np.ndarray, epochs: int, train: bool, settings=None
):
    """Notebook 09's model `name` (BODY, WHOLE or PLANTED): a `text_cnn` trained by `train_text_cnn`, or the
    committed one loaded (`trained_text_model`)."""
    return trained_text_model(
        name, vocabulary, sequences, labels, epochs, train, settings, build=text_cnn, fit=train_text_cnn
    )


def trained_text_model(
    name: str,
    vocabulary: Vocabulary,
    sequences: Sequences,
    labels: np.ndarray,
    epochs: int,
    train: bool,
    settings=None,
    *,
    build,
    fit,
    test: tuple[Sequences, np.ndarray] | None = None,
):
    """The text model `name`: `build(vocabulary size)` trained here by `fit(model, sequences, labels, epochs)`
    (which returns the training accuracy) and saved, or (`train=False`) the committed one loaded, refused with
    a clear error if its vocabulary differs. With `test` (sequences, labels), the metadata records the
    trained model's test accuracy.

    models/<name>.h5 is what a full run writes and is committed; quick mode writes models/quick/.
    `settings` default: what setup_notebook() decided.
    """
    if not train:
        return _committed_text_model(name, vocabulary)
    settings = settings or current_settings()
    model = build(len(vocabulary))
    started = time.time()
    training_accuracy = fit(model, sequences, labels, epochs)
    training_seconds = round(time.time() - started)
    tested = {} if test is None else {"test_accuracy": models.accuracy(model, test[0].ids, test[1])}
    models.save_model(
        model,
        models.model_path(quick=settings.quick, name=name),
        epochs=epochs,
        seed=settings.seed,
        training_messages=len(sequences),
        training_accuracy=training_accuracy,
        training_seconds=training_seconds,
        vocabulary_size=len(vocabulary),
        vocabulary=vocabulary_fingerprint(vocabulary),
        trained_on=datetime.date.today().isoformat(),
        tensorflow=tf.__version__,
        **tested,
    )
    return model


_TRAIN_HERE = "Train them here instead: TRAIN = True, or LRP_RETRAIN=1 in the environment."


def _committed_text_model(name: str, vocabulary: Vocabulary):
    path = models.model_path(quick=False, name=name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the collection ships its text models. {_TRAIN_HERE}")
    metadata = models.load_metadata(path)
    if metadata.get("vocabulary") != vocabulary_fingerprint(vocabulary):
        raise VocabularyMismatchError(
            f"{path} was trained with another vocabulary than this notebook built "
            f"({metadata.get('vocabulary_size', '?')} words, fingerprint {metadata.get('vocabulary', '?')}; "
            f"here {len(vocabulary)} words, {vocabulary_fingerprint(vocabulary)}): the committed text models go "
            f"with the full corpus. {_TRAIN_HERE}"
        )
    model = models.load_model(path)
    shown = path.relative_to(project_root()) if path.is_relative_to(project_root()) else path
    trained = f"{metadata['epochs']} epochs on {metadata['training_messages']} messages"
    tested = f", test accuracy {metadata['test_accuracy']:.1%}" if "test_accuracy" in metadata else ""
    print(f"Loaded {shown}: {trained}{tested}, trained {metadata['trained_on']}.")
    return model


def centre_logits(model) -> None:
    """Subtract the mean of the two logits from both, in the weights of the logits layer.

    Softmax does not change when the same number is added to every logit, so the model's
    probabilities and predictions stay exactly the same; afterwards the spam logit is
    (z_spam - z_ham) / 2 and the ham logit its negative. Explaining the spam logit then explains the
    decision itself: positive relevance speaks for spam, negative for ham.
    """
    layer = model.get_layer("logits")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel - kernel.mean(axis=1, keepdims=True), bias - bias.mean()])


def explainable_part(model):
    """The network after the embedding, as its own model on embedded sequences (N, length, dims):
    token ids are integers with no gradient, so LRP starts from their embedding vectors. It shares
    the trained layers (and weights) of `model`."""
    embedding = model.get_layer("embedding")
    return tf.keras.Sequential(
        [tf.keras.Input(shape=embedding.output_shape[1:], name="embedded"), *model.layers[1:]],
        name=f"{model.name}_after_embedding",
    )


def embed(model, ids: np.ndarray) -> np.ndarray:
    """Look the ids up in the model's embedding table: the input of `explainable_part(model)`."""
    table = model.get_layer("embedding").get_weights()[0]
    return table[ids] * (ids != PADDING_ID)[..., None]  # as PaddedEmbedding computes it


def token_relevance(analyzer, model, ids: np.ndarray, target: int = SPAM) -> np.ndarray:
    """Relevance per token (N, length): LRP on the embedded sequence, summed over the embedding
    dimensions. `analyzer` is an `analysis.Analyzer` built on `explainable_part(model)`."""
    return analyzer.analyze(embed(model, ids), target).sum(axis=-1)


def occlusion(analyzer, model, ids: np.ndarray, target: int = SPAM) -> np.ndarray:
    """Per token: how much the target logit drops when that one token is removed (set to padding, whose
    embedding is zero), by `occlusion_drops` on the CNN's embedded input. 0 at padding."""
    return occlusion_drops(lambda batch: analyzer.logits(embed(model, batch)), ids, np.full(len(ids), target))


def occlusion_drops(logit_fn, ids: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N, length): per token, how much the target logit drops when that one token is set to padding, which
    the models leave out; 0 at padding. A model-agnostic baseline for token relevance. `logit_fn`: ids ->
    logits (N, classes).

    The message itself runs in the same batch as its copies: float32 kernels may sum differently for another
    batch size, and a token that changes nothing must then show a drop of exactly 0, not rounding noise."""
    drops = np.zeros(ids.shape)
    for row, target in enumerate(np.asarray(targets)):
        positions = np.flatnonzero(ids[row] != PADDING_ID)
        batch = np.repeat(ids[row][None], len(positions) + 1, axis=0)
        batch[1 + np.arange(len(positions)), positions] = PADDING_ID  # batch[0] is the message as it is
        logits = logit_fn(batch)[:, target]
        drops[row, positions] = logits[0] - logits[1:]
    return drops


def filter_maxima(model, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per message and convolution filter (N, filters): the value global max-pooling keeps (after the
    ReLU) and the position of its first winning window. Computed from the weights in float64."""
    kernel, bias = (weight.astype(np.float64) for weight in model.get_layer("conv").get_weights())
    width, length = len(kernel), ids.shape[1]
    maxima, winners = [], []
    for start in range(0, len(ids), 256):  # in chunks, to bound the memory
        embedded = embed(model, ids[start : start + 256]).astype(np.float64)
        padded = np.pad(embedded, ((0, 0), ((width - 1) // 2, width // 2), (0, 0)))  # "same" padding
        activation = np.maximum(
            sum(padded[:, offset : offset + length] @ kernel[offset] for offset in range(width)) + bias, 0
        )
        maxima.append(activation.max(axis=1))
        winners.append(activation.argmax(axis=1))
    return np.concatenate(maxima), np.concatenate(winners)


def winning_windows(model, ids: np.ndarray) -> np.ndarray:
    """(N, length) bool: the token lies in the window of some filter's maximum, the only windows global
    max-pooling passes on (filters whose maximum is 0 have none). Removing a token outside all of them
    changes no pooled value unless it lifts another window above a maximum."""
    maxima, winners = filter_maxima(model, ids)
    width = len(model.get_layer("conv").get_weights()[0])
    inside = np.zeros(ids.shape, dtype=bool)
    for offset in range(-((width - 1) // 2), width // 2 + 1):
        positions = np.clip(winners + offset, 0, ids.shape[1] - 1)
        rows = np.broadcast_to(np.arange(len(ids))[:, None], positions.shape)
        inside[rows[maxima > 0], positions[maxima > 0]] = True
    return inside & (ids != PADDING_ID)


def word_relevance(ids: np.ndarray, relevance: np.ndarray, vocabulary_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Total relevance and number of occurrences of every word id over a set of messages."""
    totals = np.bincount(ids.ravel(), weights=relevance.ravel(), minlength=vocabulary_size)
    counts = np.bincount(ids.ravel(), minlength=vocabulary_size)
    return totals, counts


def share_on(relevance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per message: the share of absolute relevance on the tokens where `mask` is True."""
    magnitude = np.abs(relevance)
    total = magnitude.sum(axis=1)
    return np.where(total > 0, (magnitude * mask).sum(axis=1) / np.where(total > 0, total, 1), 0.0)


# ---------------------------------------------------------------------------------------------
# Showing relevance on the text
# ---------------------------------------------------------------------------------------------


def _colours(relevance: np.ndarray, limit: float | None):
    import matplotlib as mpl

    limit = limit or float(np.abs(relevance).max()) or 1.0
    return mpl.colormaps["bwr"](np.clip(0.5 + 0.5 * np.asarray(relevance) / limit, 0, 1))


def tokens_html(tokens: list[str], relevance: np.ndarray, limit: float | None = None) -> str:
    """The tokens as HTML, each on a background from blue (against) through white to red (for);
    `limit` is the relevance of full colour (default: the largest |relevance| shown)."""
    import html

    spans = []
    for token, (r, g, b, _) in zip(tokens, _colours(relevance[: len(tokens)], limit)):
        spans.append(
            f'<span style="background-color: rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f}); '
            f'color: black; padding: 1px 2px; margin: 1px; line-height: 1.9">{html.escape(token)}</span>'
        )
    return '<div style="font-family: monospace; font-size: 12px">' + " ".join(spans) + "</div>"


def draw_tokens(
    ax, tokens: list[str], relevance: np.ndarray, limit: float | None = None, title: str = "", fontsize: float = 8.0
) -> None:
    """The same picture as `tokens_html`, drawn with matplotlib (for saved figures): tokens in a
    monospace font, wrapped at the axes' width, each in a box coloured by its relevance."""
    character = 0.6 * fontsize  # width of one monospace character, in points
    line_height = 1.8 * fontsize
    box = ax.get_window_extent()
    width, height = box.width * 72 / ax.figure.dpi, box.height * 72 / ax.figure.dpi
    columns = max(int(width / character) - 1, 10)
    x, line, places = 0, 0, []
    for token in tokens:
        if x and x + len(token) > columns:
            x, line = 0, line + 1
        places.append((x, line))
        x += len(token) + 1
    for token, (x, line), colour in zip(tokens, places, _colours(relevance[: len(tokens)], limit)):
        ax.text(
            x,
            line,
            token,
            family="monospace",
            fontsize=fontsize,
            va="center",
            ha="left",
            bbox={"boxstyle": "square,pad=0.1", "facecolor": colour, "edgecolor": "none"},
        )
    ax.set(xlim=(-0.5, width / character - 0.5), ylim=(max(line + 1, height / line_height) - 0.5, -0.7))
    ax.axis("off")
    ax.set_title(title, loc="left", fontsize=fontsize + 1)
