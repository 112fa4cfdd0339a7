"""The original miniVGG: architecture, parameter count, training, save/load."""

import json

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers.data import CIFAR10
from lrp_helpers.models import (
    MINI_VGG_PARAMETERS,
    ORIGINAL_RECIPE,
    load_metadata,
    load_model,
    mini_vgg,
    save_model,
    train,
)


@pytest.fixture(scope="module")
def model():
    return mini_vgg()


def test_parameter_count_matches_the_seed(model):
    assert model.count_params() == MINI_VGG_PARAMETERS == 2_171_178


def test_layer_order_is_conv_relu_batchnorm(model):
    kinds = [type(layer).__name__ for layer in model.layers]
    block = ["Conv2D", "Activation", "BatchNormalization"] * 2 + ["MaxPooling2D", "Dropout"]
    head = ["Flatten", "Dense", "Activation", "BatchNormalization", "Dropout", "Dense", "Activation"]
    assert kinds == block * 2 + head
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64, 64]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)
    dropouts = [layer.rate for layer in model.layers if isinstance(layer, tf.keras.layers.Dropout)]
    assert dropouts == [0.25, 0.25, 0.5]
    activations = [layer.activation.__name__ for layer in model.layers if isinstance(layer, tf.keras.layers.Activation)]
    assert activations == ["relu"] * 5 + ["softmax"]


def test_output_is_a_probability_distribution(model):
    assert model.output_shape == (None, 10)
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (4, 10)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_original_recipe():
    assert (ORIGINAL_RECIPE.learning_rate, ORIGINAL_RECIPE.batch_size, ORIGINAL_RECIPE.epochs) == (1e-3, 64, 40)


def _separable_data(n=256, seed=0):
    """Two classes a small net learns in one epoch: bright vs dark images."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = (rng.random((n, 32, 32, 3)) * 0.5 + 0.5 * y[:, None, None, None]).astype(np.float32)
    return CIFAR10(x, y, x[:64], y[:64], class_names=("dark", "bright"))


@pytest.mark.slow
def test_training_learns_and_moves_batchnorm_statistics():
    data = _separable_data()
    model = mini_vgg(num_classes=2)
    history = train(model, data, epochs=2, progress=False)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    assert history.history["accuracy"][-1] > 0.9
    moving_mean = model.get_layer("block1_bn1").moving_mean
    assert np.abs(tf.keras.backend.get_value(moving_mean)).max() > 0  # BatchNorm was not frozen


def test_save_and_load_round_trip(tmp_path, model):
    path = save_model(model, tmp_path / "m.h5", epochs=3, recipe=ORIGINAL_RECIPE, test_accuracy=np.float32(0.5))
    assert path.stat().st_size < 12e6
    restored = load_model(path)
    images = np.random.default_rng(1).random((3, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(restored.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    metadata = load_metadata(path)
    assert metadata["recipe"]["batch_size"] == 64 and metadata["epochs"] == 3
    assert json.loads(path.with_suffix(".json").read_text())["test_accuracy"] == pytest.approx(0.5)


def test_loading_a_missing_model_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 02"):
        load_model(tmp_path / "none.h5")


def test_a_damaged_model_file_says_what_is_wrong_and_how_to_fix_it(tmp_path):
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")  # e.g. a Git LFS pointer, or a cut download
    with pytest.raises(OSError, match=r"damaged.h5 is not a readable Keras .h5 model .*git checkout -- "):
        load_model(damaged)


def test_a_path_given_to_load_trained_model_is_refused_with_the_call_that_loads_it():
    from lrp_helpers import models

    with pytest.raises(TypeError, match=r"not a file\. To load a model file of your own: models.load_model\('my.h5'\)"):
        models.load_trained_model("my.h5")


def test_one_cycle_schedule_shape():
    from lrp_helpers.models import one_cycle

    rates = np.array([one_cycle(step, 100, peak=1.0, warmup=0.25) for step in range(100)])
    assert rates[0] == pytest.approx(0.1)
    assert rates.argmax() == 25 and rates.max() == pytest.approx(1.0)
    assert np.all(np.diff(rates[:26]) > 0) and np.all(np.diff(rates[25:]) < 0)
    assert rates[-1] == pytest.approx(0.01, abs=1e-3)


def test_augmentation_crops_and_flips_without_changing_content_scale():
    from lrp_helpers.models import augment_batch

    images = np.random.default_rng(0).random((64, 32, 32, 3), dtype=np.float32)
    augmented = augment_batch(images, np.random.default_rng(1))
    assert augmented.shape == images.shape and augmented.dtype == images.dtype
    assert 0 <= augmented.min() and augmented.max() <= 1
    unchanged = [np.array_equal(a, b) for a, b in zip(images, augmented)]
    assert sum(unchanged) < 8  # only a centred crop without a flip leaves an image unchanged (1 in 162)
    # every augmented image is a shifted (and maybe flipped) window of its zero-padded original
    padded = np.pad(images[5], ((4, 4), (4, 4), (0, 0)))
    windows = [padded[r : r + 32, c : c + 32] for r in range(9) for c in range(9)]
    assert any(np.array_equal(augmented[5], w) or np.array_equal(augmented[5], w[:, ::-1]) for w in windows)


def test_recipe_optimizer_and_label_smoothing():
    from lrp_helpers.models import Recipe, compile_model

    model = compile_model(mini_vgg(), Recipe(optimizer="sgd", learning_rate=0.05, label_smoothing=0.1))
    assert type(model.optimizer).__name__ == "SGD"
    assert model.optimizer.get_config()["momentum"] == pytest.approx(0.9)
    assert model.optimizer.get_config()["nesterov"] is True
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert type(compile_model(mini_vgg(), ORIGINAL_RECIPE).optimizer).__name__ == "Adam"
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        compile_model(mini_vgg(), Recipe(optimizer="rmsprop"))


def test_decoupled_weight_decay_shrinks_kernels_only():
    from lrp_helpers.models import _with_weight_decay

    kernel = tf.Variable(np.full(3, 2.0, np.float32), name="dense/kernel")
    bias = tf.Variable(np.full(3, 2.0, np.float32), name="dense/bias")
    optimizer = _with_weight_decay(tf.keras.optimizers.legacy.Adam, weight_decay=0.5)(learning_rate=0.1)
    zero = tf.zeros(3)  # with a zero gradient Adam itself does not move: only the decay acts
    step = optimizer.apply_gradients([(zero, kernel), (zero, bias)])
    session = tf.compat.v1.keras.backend.get_session()
    session.run([kernel.initializer, bias.initializer] + [v.initializer for v in optimizer.variables()])
    session.run(step)
    session.run(step)
    np.testing.assert_allclose(session.run(kernel), 2.0 * (1 - 0.1 * 0.5) ** 2, rtol=1e-6)
    np.testing.assert_allclose(session.run(bias), 2.0)


@pytest.mark.slow
def test_recipe_with_weight_decay_and_flips_only_trains():
    from lrp_helpers.models import Recipe

    data = _separable_data()
    model = mini_vgg(num_classes=2)
    recipe = Recipe(learning_rate=1e-3, batch_size=64, augment=True, schedule="one_cycle", weight_decay=0.05, crop=0)
    history = train(model, data, recipe, epochs=2, progress=False)
    assert type(model.optimizer).__name__ == "AdamW"
    assert history.history["accuracy"][-1] > 0.9


def test_learning_rates_per_step():
    from lrp_helpers.models import FAST_RECIPE, ORIGINAL_RECIPE, learning_rates

    seed = learning_rates(ORIGINAL_RECIPE, 1000, epochs=2)
    assert seed.shape == (32,) and np.all(seed == 1e-3)  # ceil(1000 / 64) = 16 steps per epoch
    fast = learning_rates(FAST_RECIPE, 1000)
    assert fast.shape == (int(np.ceil(1000 / FAST_RECIPE.batch_size)) * FAST_RECIPE.epochs,)
    assert fast.max() == pytest.approx(FAST_RECIPE.learning_rate)
    assert fast[0] == pytest.approx(FAST_RECIPE.learning_rate / 10)


def test_committed_model_is_the_default_recipes_and_carries_its_training_curves():
    """models/mini_vgg.h5 is what notebook 02 writes by default, and its metadata holds the curves
    notebook 02 plots when it loads the model instead of training (LRP_RETRAIN=0)."""
    from dataclasses import asdict

    from lrp_helpers import models, settings

    metadata = load_metadata(models.model_path(quick=False))
    assert metadata["recipe"] == asdict(models.RECIPES[settings.recipe_choice()]) == asdict(models.FAST_RECIPE)
    assert set(models.RECIPES) == set(settings.RECIPE_NAMES)
    curves = metadata["history"]
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert len(curves[key]) == metadata["epochs"] == models.FAST_RECIPE.epochs, key
    assert curves["val_accuracy"][-1] == pytest.approx(metadata["test_accuracy"], abs=1e-4)
    assert max(curves["val_accuracy"]) == pytest.approx(metadata["best_test_accuracy"])


def test_fresh_mini_vgg_draws_the_same_weights_from_the_same_seed():
    """Notebook 02 and the training benchmarks start from `fresh_mini_vgg(seed)`: equal seeds must give
    equal initial weights (else the benchmark's seed-42 run would not be notebook 02's), other seeds
    other weights. Run last in this module: it replaces the module's graph."""
    from lrp_helpers.models import fresh_mini_vgg

    first, again, other = (fresh_mini_vgg(seed).get_weights() for seed in (42, 42, 43))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    kernels = [index for index, weights in enumerate(first) if weights.ndim > 1]
    assert not any(np.array_equal(first[index], other[index]) for index in kernels)


def test_the_fast_recipe_changes_only_the_dropout_rates_of_the_network():
    """The fast recipe thins the network less while training; the network that predicts and that LRP
    explains has the original layers and parameters."""
    from lrp_helpers.models import FAST_RECIPE

    def layers_without_rates(network):
        layers = network.get_config()["layers"]
        return [{**layer, "config": {**layer["config"], "rate": None}} for layer in layers]

    seed, fast = (
        mini_vgg(block_dropout=recipe.block_dropout, head_dropout=recipe.head_dropout)
        for recipe in (ORIGINAL_RECIPE, FAST_RECIPE)
    )
    assert layers_without_rates(seed) == layers_without_rates(fast)
    assert fast.count_params() == seed.count_params() == MINI_VGG_PARAMETERS
    rates = [layer.rate for layer in fast.layers if isinstance(layer, tf.keras.layers.Dropout)]
    assert rates == [FAST_RECIPE.block_dropout] * 2 + [FAST_RECIPE.head_dropout] != [0.25, 0.25, 0.5]
