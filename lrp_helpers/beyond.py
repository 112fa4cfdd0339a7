"""LRP beyond images (notebook 08): tabular data and time series, with data that ships offline.

Tabular: scikit-learn's bundled breast-cancer data set (569 patients, 30 features), a small MLP.
Time series: synthetic signals whose class is decided by a short motif planted at a random
position, and a small 1-D CNN. Because we planted the motif, we know where the evidence is and can
measure whether LRP finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .clever_hans import relevance_mass
from .models import optimizer

# ---------------------------------------------------------------------------------------------
# Tabular data
# ---------------------------------------------------------------------------------------------


@dataclass
class Tabular:
    x_train: np.ndarray  # standardised with the training set's mean and standard deviation
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list
    class_names: tuple


def load_breast_cancer_data(test_share: float = 0.3, seed: int = 0) -> Tabular:
    """The Wisconsin breast-cancer data (bundled with scikit-learn), split stratified, standardised."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_share, stratify=bunch.target, random_state=seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return Tabular(
        ((x_train - mean) / std).astype(np.float32),
        y_train,
        ((x_test - mean) / std).astype(np.float32),
        y_test,
        list(bunch.feature_names),
        tuple(bunch.target_names),
    )


def tabular_mlp(features: int, classes: int = 2) -> tf.keras.Sequential:
    """Dense 32 -> ReLU -> Dense 16 -> ReLU -> Dense (logits) -> softmax."""
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(features,), name="features"),
            layers.Dense(32, activation="relu", name="hidden1"),
            layers.Dense(16, activation="relu", name="hidden2"),
            layers.Dense(classes, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="tabular_mlp",
    )


def fit_classifier(model, x, y, epochs: int, batch_size: int = 32, learning_rate: float = 1e-3) -> float:
    """Train with Adam and cross-entropy; returns the final training accuracy."""

    model.compile(
        optimizer=optimizer("adam", learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return float(history.history["accuracy"][-1])


def permutation_importance(predict_proba, x, y, repeats: int = 10, seed: int = 0) -> np.ndarray:
    """Mean drop in the log-likelihood of the true class when one feature's column is shuffled
    (scikit-learn's `permutation_importance`, the model given as a `predict_proba` function).

    Log-likelihood rather than accuracy: with ~95% accuracy on a small test set, shuffling most
    features flips no prediction at all, and accuracy cannot tell them apart.
    """
    from sklearn.base import BaseEstimator
    from sklearn.inspection import permutation_importance as sklearn_importance

    class Wrapped(BaseEstimator):
        def fit(self, *args):
            return self

        def predict_proba(self, inputs):
            return predict_proba(np.asarray(inputs, dtype=np.float32))

    def log_likelihood(estimator, inputs, labels):
        probabilities = estimator.predict_proba(inputs)[np.arange(len(labels)), labels]
        return float(np.log(np.clip(probabilities, 1e-12, 1)).mean())

    result = sklearn_importance(Wrapped(), x, y, scoring=log_likelihood, n_repeats=repeats, random_state=seed)
    return result.importances_mean


# ---------------------------------------------------------------------------------------------
# Time series with a planted motif
# ---------------------------------------------------------------------------------------------

MOTIF_LENGTH = 16


def motifs(length: int = MOTIF_LENGTH) -> dict[int, np.ndarray]:
    """Class 0: a smooth bump (half a sine). Class 1: a fast oscillation (two sine periods)."""
    t = np.linspace(0, 1, length)
    return {0: 2.0 * np.sin(np.pi * t), 1: 2.0 * np.sin(4 * np.pi * t)}


@dataclass
class MotifSeries:
    x: np.ndarray  # (N, length, 1)
    y: np.ndarray  # class = which motif was planted
    start: np.ndarray  # where the motif begins


def make_motif_series(n: int, length: int = 128, noise: float = 0.5, seed: int = 0) -> MotifSeries:
    """Gaussian noise with one class-specific motif added at a random position."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    start = rng.integers(0, length - MOTIF_LENGTH + 1, size=n)
    x = rng.normal(0, noise, size=(n, length))
    shapes = motifs()
    for i in range(n):
        x[i, start[i] : start[i] + MOTIF_LENGTH] += shapes[y[i]]
    return MotifSeries(x[..., None].astype(np.float32), y, start)


def motif_cnn(length: int = 128, classes: int = 2) -> tf.keras.Sequential:
    """Conv1D 16 -> ReLU -> max-pool -> Conv1D 32 -> ReLU -> max-pool -> Dense 32 -> ReLU -> logits."""
    layers = tf.keras.layers
    return tf.keras.Sequential(
        [
            tf.keras.Input(shape=(length, 1), name="series"),
            layers.Conv1D(16, 7, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling1D(2, name="pool1"),
            layers.Conv1D(32, 5, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling1D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(32, activation="relu", name="dense"),
            layers.Dense(classes, name="logits"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="motif_cnn",
    )


def relevance_in_window(relevance: np.ndarray, start: np.ndarray, length: int = MOTIF_LENGTH) -> np.ndarray:
    """Per series: the share of *positive* relevance that falls inside [start, start + length)
    (the "relevance mass accuracy" of Arras et al., 2022). 1 = all evidence on the motif."""

    relevance = relevance.reshape(len(relevance), -1)
    position = np.arange(relevance.shape[1])
    inside = (position >= np.asarray(start)[:, None]) & (position < np.asarray(start)[:, None] + length)
    return relevance_mass(relevance, inside)


def train_tabular_mlp(data: Tabular, epochs: int, seed: int = 0, columns=None):
    """`tabular_mlp` trained on `data`'s feature `columns` (default: all) from random seed `seed`, so
    that the same call gives the same network in every notebook. Returns the model and its test accuracy."""
    columns = np.arange(data.x_train.shape[1]) if columns is None else np.asarray(columns)
    tf.keras.utils.set_random_seed(seed)
    model = tabular_mlp(len(columns))
    fit_classifier(model, data.x_train[:, columns], data.y_train, epochs=epochs)
    predicted = model.predict(data.x_test[:, columns], verbose=0).argmax(axis=1)
    return model, float((predicted == data.y_test).mean())


def positive_contributions_from_negative_inputs(x: np.ndarray, kernel: np.ndarray) -> float:
    """For a first Conv1D layer with weights `kernel` (width, 1, filters; padding "same") on series `x`
    (N, length, 1): the share of all positive contributions (x_j w_jk)⁺, the evidence z⁺ passes on, that
    come from negative inputs (x_j < 0 with w_jk < 0). 0 for non-negative inputs, as z⁺ assumes."""
    width = kernel.shape[0]
    padded = np.pad(x[..., 0], ((0, 0), ((width - 1) // 2, width // 2)))
    patches = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (N, length, width)
    contributions = patches[..., None] * kernel[None, None, :, 0, :]  # (N, length, width, filters)
    positive = np.clip(contributions, 0, None)
    return float(positive[np.broadcast_to(patches[..., None] < 0, positive.shape)].sum() / positive.sum())
