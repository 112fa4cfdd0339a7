"""The original miniVGG network, its training recipe, and saving/loading trained models."""

from __future__ import annotations

import contextlib
import json
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from .data import CIFAR10
from .settings import current_settings, project_root, set_seeds

MINI_VGG_PARAMETERS = 2_171_178


def mini_vgg(input_shape=(32, 32, 3), num_classes=10, block_dropout=0.25, head_dropout=0.5) -> tf.keras.Sequential:
    """The original miniVGG: two VGG blocks and a dense head, BatchNorm *after* each ReLU.

    Conv 32-32 / 64-64 (3x3, same padding), each Conv -> ReLU -> BatchNorm; 2x2 max-pool and
    dropout (the original recipe's rate: 0.25) after each block; Dense 512 -> ReLU -> BatchNorm -> dropout (0.5);
    Dense -> softmax. The dropout rates only act while training: a recipe may choose them (`Recipe`).
    """
    layers = tf.keras.layers
    model = tf.keras.Sequential(name="mini_vgg")
    model.add(tf.keras.Input(shape=input_shape, name="image"))
    for block, filters in enumerate((32, 64), start=1):
        for conv in (1, 2):
            model.add(layers.Conv2D(filters, 3, padding="same", name=f"block{block}_conv{conv}"))
            model.add(layers.Activation("relu", name=f"block{block}_relu{conv}"))
            model.add(layers.BatchNormalization(name=f"block{block}_bn{conv}"))
        model.add(layers.MaxPooling2D(2, name=f"block{block}_pool"))
        model.add(layers.Dropout(block_dropout, name=f"block{block}_dropout"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(512, name="dense"))
    model.add(layers.Activation("relu", name="dense_relu"))
    model.add(layers.BatchNormalization(name="dense_bn"))
    model.add(layers.Dropout(head_dropout, name="dense_dropout"))
    model.add(layers.Dense(num_classes, name="logits"))
    model.add(layers.Activation("softmax", name="softmax"))
    return model


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. `ORIGINAL_RECIPE` is the original recipe:
    that of the project this collection grew from, reproduced faithfully.

    learning_rate: Adam's learning rate (the peak rate with the one-cycle schedule)
    augment:       random horizontal flips and random 32x32 crops of the image zero-padded by
                   `crop` pixels (crop = 0: flips only)
    schedule:      "constant", or "one_cycle": warm up linearly from learning_rate / 10 over the
                   first `warmup` share of the steps, then anneal along a cosine to learning_rate / 100
    label_smoothing: the cross-entropy's label smoothing (0 = none)
    optimizer:     "adam", or "sgd" (momentum 0.9, Nesterov)
    weight_decay:  decoupled weight decay of the Conv2D/Dense kernels: each step shrinks them by
                   learning rate x weight_decay (AdamW-style; 0 = none)
    block_dropout, head_dropout: the dropout rates after each VGG block and before the logits
                   (the original 0.25 and 0.5); dropout is off when the network predicts or is explained
    """

    name: str = "original"
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 40
    augment: bool = False
    schedule: str = "constant"
    warmup: float = 0.25
    label_smoothing: float = 0.0
    optimizer: str = "adam"
    weight_decay: float = 0.0
    crop: int = 4
    block_dropout: float = 0.25
    head_dropout: float = 0.5


ORIGINAL_RECIPE = Recipe()
# The best of the trials in benchmarks/training_recipes.py (docs/measurements.md): the recipe as first found
# (label smoothing 0.1, a 25% warm-up, the original dropout) averaged 85.07% over four runs, short of issue
# 14's 85.5%; with label smoothing 0.2, a 15% warm-up and lighter dropout, seeds 42-44 reached lowest 85.90%,
# mean 86.13% (benchmarks/results/fast_recipe_seeds.json).
FAST_RECIPE = Recipe(
    name="fast",
    learning_rate=5e-3,
    batch_size=64,
    epochs=12,
    augment=True,
    crop=0,
    schedule="one_cycle",
    warmup=0.15,
    label_smoothing=0.2,
    weight_decay=0.05,
    block_dropout=0.1,
    head_dropout=0.3,
)


RECIPES = {"original": ORIGINAL_RECIPE, "fast": FAST_RECIPE}  # settings.RECIPE_NAMES names them


def fresh_mini_vgg(seed: int, recipe: Recipe = ORIGINAL_RECIPE, build=mini_vgg) -> tf.keras.Model:
    """`build(...)` (an untrained miniVGG, with the recipe's dropout rates) in a new TensorFlow graph,
    its initial weights drawn after seeding with `seed`: notebook 02, its solutions and the training
    benchmarks all start here, so the same seed gives the same network on the same machine. A new
    graph also keeps training fast: in graph mode every model otherwise joins one default graph,
    which only grows."""
    tf.keras.backend.clear_session()
    set_seeds(seed)
    return build(block_dropout=recipe.block_dropout, head_dropout=recipe.head_dropout)


def one_cycle(step: int, total_steps: int, peak: float, warmup: float = 0.25) -> float:
    """The one-cycle learning rate at `step` (0-based) of `total_steps`."""
    rise = max(1, int(total_steps * warmup))
    if step < rise:
        return peak / 10 + (peak - peak / 10) * step / rise
    progress = (step - rise) / max(1, total_steps - rise)
    return peak / 100 + (peak - peak / 100) * 0.5 * (1 + np.cos(np.pi * progress))


def learning_rates(recipe: Recipe, training_images: int, epochs: int | None = None) -> np.ndarray:
    """The learning rate of every training step (batch) under the recipe."""
    epochs = recipe.epochs if epochs is None else epochs
    total_steps = int(np.ceil(training_images / recipe.batch_size)) * epochs
    if recipe.schedule == "one_cycle":
        return np.array(
            [one_cycle(step, total_steps, recipe.learning_rate, recipe.warmup) for step in range(total_steps)]
        )
    return np.full(total_steps, recipe.learning_rate)


def augment_batch(images: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """Random crops of the zero-padded images and random horizontal flips (a new copy)."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    rows = rng.integers(0, 2 * pad + 1, size=n)
    cols = rng.integers(0, 2 * pad + 1, size=n)
    out = np.empty_like(images)
    for i in range(n):
        crop = padded[i, rows[i] : rows[i] + h, cols[i] : cols[i] + w]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out


class _AugmentedBatches(tf.keras.utils.Sequence):
    """Shuffled, augmented training batches, a new shuffle and new crops every epoch."""

    def __init__(self, images, labels, batch_size, seed=0, pad=4):
        super().__init__()
        self.images, self.labels, self.batch_size, self.pad = images, labels, batch_size, pad
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self):
        return int(np.ceil(len(self.images) / self.batch_size))

    def __getitem__(self, index):
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return augment_batch(self.images[chosen], self.rng, self.pad), self.labels[chosen]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))


class _OneCycle(tf.keras.callbacks.Callback):
    def __init__(self, total_steps, peak, warmup):
        super().__init__()
        self.total_steps, self.peak, self.warmup, self.step = total_steps, peak, warmup, 0

    def on_train_batch_begin(self, batch, logs=None):
        rate = one_cycle(self.step, self.total_steps, self.peak, self.warmup)
        tf.keras.backend.set_value(self.model.optimizer.lr, rate)
        self.step += 1


def _with_weight_decay(optimizer_class, weight_decay):
    """`optimizer_class` that also shrinks every kernel by learning rate x weight_decay per step."""

    class DecoupledWeightDecay(optimizer_class):
        def _resource_apply_dense(self, grad, var, apply_state=None):
            if "kernel" not in var.name:
                return super()._resource_apply_dense(grad, var, apply_state)
            rate = self._decayed_lr(var.dtype.base_dtype)
            with tf.control_dependencies([var.assign_sub(rate * weight_decay * var)]):
                return super()._resource_apply_dense(grad, var, apply_state)

    DecoupledWeightDecay.__name__ = optimizer_class.__name__ + "W"
    return DecoupledWeightDecay


def optimizer(kind: str = "adam", learning_rate: float = 1e-3, weight_decay: float = 0.0):
    """A Keras optimizer, "adam" or "sgd" (momentum 0.9, Nesterov), with optional decoupled weight
    decay (see `Recipe`), that also trains in graph mode, where only the legacy optimizers work."""
    optimizers = tf.keras.optimizers if tf.executing_eagerly() else tf.keras.optimizers.legacy
    if kind not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {kind!r}; use 'adam' or 'sgd'")
    adam = kind == "adam"
    optimizer_class = optimizers.Adam if adam else optimizers.SGD
    if weight_decay:
        if tf.executing_eagerly():
            raise ValueError("weight_decay needs graph mode; call setup_notebook() first")
        optimizer_class = _with_weight_decay(optimizer_class, weight_decay)
    if adam:
        return optimizer_class(learning_rate)
    return optimizer_class(learning_rate, momentum=0.9, nesterov=True)


def compile_model(model: tf.keras.Model, recipe: Recipe = ORIGINAL_RECIPE) -> tf.keras.Model:
    model.compile(
        optimizer=optimizer(recipe.optimizer, recipe.learning_rate, recipe.weight_decay),
        loss=tf.keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def train(
    model: tf.keras.Model,
    data: CIFAR10,
    recipe: Recipe = ORIGINAL_RECIPE,
    epochs: int | None = None,
    progress: bool = True,
    callbacks: tuple = (),
    augmentation_seed: int = 0,
) -> tf.keras.callbacks.History:
    """Train with the recipe (test set as validation, as the seed does); returns the History.

    `epochs` overrides the recipe's epoch count (quick mode). Shows one progress bar over epochs;
    `callbacks` are passed on to `model.fit`. `augmentation_seed` seeds the random flips, crops and
    image order of an augmenting recipe; the weights' initialisation follows TensorFlow's global seed.
    """
    from tqdm.auto import tqdm
    from tqdm.keras import TqdmCallback

    epochs = recipe.epochs if epochs is None else epochs
    compile_model(model, recipe)
    callbacks = list(callbacks) + ([TqdmCallback(verbose=0, tqdm_class=tqdm)] if progress else [])
    targets = tf.keras.utils.to_categorical(data.y_train, data.num_classes)
    steps_per_epoch = int(np.ceil(len(data.x_train) / recipe.batch_size))
    if recipe.schedule == "one_cycle":
        callbacks.append(_OneCycle(steps_per_epoch * epochs, recipe.learning_rate, recipe.warmup))
    elif recipe.schedule != "constant":
        raise ValueError(f"unknown schedule {recipe.schedule!r}; use 'constant' or 'one_cycle'")
    if recipe.augment:
        inputs = {"x": _AugmentedBatches(data.x_train, targets, recipe.batch_size, augmentation_seed, recipe.crop)}
    else:
        inputs = {"x": data.x_train, "y": targets, "batch_size": recipe.batch_size}
    start = time.perf_counter()
    history = model.fit(
        **inputs,
        epochs=epochs,
        validation_data=(data.x_test, tf.keras.utils.to_categorical(data.y_test, data.num_classes)),
        verbose=0,
        callbacks=callbacks,
    )
    history.seconds = time.perf_counter() - start
    return history


_SOFTMAX_FREE = weakref.WeakKeyDictionary()  # model -> the same layers without the final softmax


def logits(model: tf.keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's logits, its output before the final softmax (what LRP explains), shape (N, classes).
    The softmax-free model shares the model's layers and weights, so it follows any training."""
    if model not in _SOFTMAX_FREE:
        from innvestigate import model_wo_softmax

        _SOFTMAX_FREE[model] = model_wo_softmax(model) if _ends_in_softmax(model) else model
    return _SOFTMAX_FREE[model].predict(images, batch_size=batch_size, verbose=0)


@contextlib.contextmanager
def copy_in_own_graph(model: tf.keras.Model, weights: list[np.ndarray] | None = None):
    """A copy of `model` with `weights` (default: its own) in a TensorFlow graph and session of its
    own, for the duration of a `with` block.

    In graph mode all models share one default graph, which only grows, and each Keras call that
    touches it (`predict`, `get_weights`, building a model) costs time in proportion to its size: a
    loop that builds a model per step slows down step by step. A copy in its own graph costs the
    same at every step, leaves the default graph as it is, and is freed with the block."""
    config, weights = model.get_config(), model.get_weights() if weights is None else weights
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session, session.as_default():
        copy = type(model).from_config(config)
        copy.set_weights(weights)
        yield copy


def _ends_in_softmax(model) -> bool:
    activation = model.layers[-1].get_config().get("activation")
    return activation == "softmax"


def accuracy(model: tf.keras.Model, images: np.ndarray, labels: np.ndarray, batch_size=500) -> float:
    predictions = model.predict(images, batch_size=batch_size, verbose=0).argmax(axis=1)
    return float((predictions == labels).mean())


def save_model(model: tf.keras.Model, path: str | Path, **metadata) -> Path:
    """Save as HDF5 without optimizer state, plus `<path>.json` with the given metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path, include_optimizer=False, save_format="h5")
    metadata_path = path.with_suffix(".json")
    metadata_path.write_text(json.dumps(metadata, indent=2, default=_jsonable) + "\n")
    return path


def load_model(path: str | Path) -> tf.keras.Model:
    """A Keras model saved as .h5 (`save_model`); clear errors for a missing or unreadable file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No trained model at {path}. Run notebook 02 to train one.")
    try:
        return tf.keras.models.load_model(path, compile=False)
    except OSError as error:  # h5py: "file signature not found", a truncated file, ...
        raise OSError(
            f"{path} is not a readable Keras .h5 model ({error}): it is damaged or not an HDF5 file. Save the "
            f"model again (models.save_model), or restore a committed one: git checkout -- {path}"
        ) from error


def load_metadata(path: str | Path) -> dict:
    return json.loads(Path(path).with_suffix(".json").read_text())


def _jsonable(value):
    if isinstance(value, Recipe):
        return asdict(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


CLEAN, POISONED = "mini_vgg", "mini_vgg_poisoned"  # notebook 02's model; notebook 06's Clever-Hans model


def model_path(quick: bool = False, name: str = CLEAN) -> Path:
    """models/<name>.h5 (a committed full-run model), or models/quick/<name>.h5 in quick mode."""
    folder = project_root() / "models"
    return (folder / "quick" if quick else folder) / f"{name}.h5"


def load_trained_model(settings=None, name: str = CLEAN) -> tuple[tf.keras.Model, dict]:
    """A trained miniVGG and its metadata; prints which it is.

    models/mini_vgg.h5 is what notebook 02 writes in a full run (`name=POISONED`: notebook 06's
    poisoned model), and it is committed, so a fresh clone has it. Only if it is missing and we
    are in quick mode is the quick-mode model the notebook wrote to models/quick/ used instead.
    `settings` (a `Settings`) default: what setup_notebook() decided.
    """
    if isinstance(settings, (str, Path)):
        raise TypeError(
            f"load_trained_model() loads the collection's trained models by name (name={CLEAN!r} or "
            f"{POISONED!r}); its first argument is the notebook's settings, not a file. To load a model file "
            f"of your own: models.load_model({str(settings)!r})"
        )
    path = model_path(quick=False, name=name)
    if not path.exists() and (settings or current_settings()).quick:
        path = model_path(quick=True, name=name)
    model = load_model(path)
    metadata = load_metadata(path)
    shown = path.relative_to(project_root()) if path.is_relative_to(project_root()) else path
    print(
        f"Loaded {shown}: {metadata.get('recipe', {}).get('name', '?')} recipe, "
        f"{metadata.get('epochs', '?')} epochs, test accuracy {metadata.get('test_accuracy', float('nan')):.1%}, "
        f"trained {metadata.get('trained_on', '?')}."
    )
    return model, metadata
