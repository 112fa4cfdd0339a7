"""Evaluation metrics on cases whose answer is known."""

import numpy as np
import pytest

from lrp_helpers import evaluation


def _linear_model(weights):
    """f(x) = sum(w * x) for single-channel images; logits have one column per 'class'."""

    def logits(images):
        value = (images[..., 0] * weights).sum(axis=(1, 2))
        return np.stack([value, -value], axis=1)

    return logits


def test_aopc_of_a_linear_model_by_hand():
    # a 4x4 image in 2x2 regions whose contributions are 4, 3, 2 and 1
    weights = np.ones((4, 4))
    image = np.zeros((1, 4, 4, 1))
    image[0, :2, :2, 0] = 1.0  # region 0: 4
    image[0, :2, 2:, 0] = 0.75  # region 1: 3
    image[0, 2:, :2, 0] = 0.5  # region 2: 2
    image[0, 2:, 2:, 0] = 0.25  # region 3: 1
    relevance = image[..., 0] * weights  # exact contributions of a linear model
    f = _linear_model(weights)
    zeros = np.zeros_like(image)
    morf = evaluation.region_order(relevance, region=2)
    np.testing.assert_array_equal(morf, [[0, 1, 2, 3]])
    curve = evaluation.perturbation_curves(f, image, np.array([0]), morf, zeros, region=2)
    np.testing.assert_allclose(curve, [[10, 6, 3, 1, 0]])
    np.testing.assert_allclose(evaluation.aopc(curve), [(0 + 4 + 7 + 9 + 10) / 5])
    lerf = evaluation.region_order(relevance, region=2, most_relevant_first=False)
    curve = evaluation.perturbation_curves(f, image, np.array([0]), lerf, zeros, region=2)
    np.testing.assert_allclose(evaluation.aopc(curve), [(0 + 1 + 3 + 6 + 10) / 5])


def test_true_relevance_beats_a_random_ordering():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 8))
    images = rng.random((20, 8, 8, 1))
    f = _linear_model(weights)
    targets = np.zeros(20, dtype=int)
    noise = rng.random(images.shape)
    truth = evaluation.region_order(images[..., 0] * weights, region=2)
    random = np.argsort(rng.random(truth.shape), axis=1)
    good = evaluation.aopc(evaluation.perturbation_curves(f, images, targets, truth, noise, region=2, steps=8))
    chance = evaluation.aopc(evaluation.perturbation_curves(f, images, targets, random, noise, region=2, steps=8))
    assert good.mean() > chance.mean() + 0.5


def test_batching_the_steps_changes_nothing_but_the_number_of_calls():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 8))
    images = rng.random((5, 8, 8, 1))
    targets = rng.integers(0, 2, size=5)
    order = np.argsort(rng.random((5, 16)), axis=1)
    noise = rng.random(images.shape)
    calls = []

    def f(batch):
        calls.append(len(batch))
        return _linear_model(weights)(batch)

    one_call_per_step = np.stack(
        [evaluation.perturbation_curves(f, images, targets, order, noise, region=2, steps=k)[:, -1] for k in range(11)],
        axis=1,
    )
    for images_per_call, expected_calls in ((1, [5] * 11), (15, [15, 15, 15, 10]), (4096, [55])):
        calls.clear()
        curves = evaluation.perturbation_curves(
            f, images, targets, order, noise, region=2, steps=10, images_per_call=images_per_call
        )
        assert calls == expected_calls
        np.testing.assert_allclose(curves, one_call_per_step)


def test_a_replacement_function_sees_every_region_removed_so_far():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 8))
    images = rng.random((3, 8, 8, 1))
    targets = np.zeros(3, dtype=int)
    order = np.argsort(rng.random((3, 16)), axis=1)
    f = _linear_model(weights)
    by_array = evaluation.perturbation_curves(f, images, targets, order, np.zeros_like(images), region=2)
    by_function = evaluation.perturbation_curves(
        f, images, targets, order, lambda x, removed: np.where(removed[..., None], 0.0, x), region=2
    )
    np.testing.assert_allclose(by_function, by_array)
    np.testing.assert_allclose(by_function[:, -1], 0.0, atol=1e-12)  # all 16 regions removed


def test_noisy_linear_imputation_restores_linear_images_and_keeps_the_rest():
    y, x = np.mgrid[0:16, 0:16]
    image = np.stack([0.02 * y + 0.01 * x, 0.5 - 0.01 * y, np.full((16, 16), 0.3)], axis=-1)[None]
    removed = np.zeros((1, 16, 16), dtype=bool)
    removed[0, 4:9, 6:12] = True  # inside the image: every removed pixel has all eight neighbours
    exact = evaluation.NoisyLinearImputation(noise=0.0)(image, removed)
    np.testing.assert_allclose(exact, image, atol=1e-12)  # a linear image is the mean of its neighbours
    constant = np.full((1, 16, 16, 3), 0.7)
    removed[0, :3, :5] = True  # touching the border too
    noisy = evaluation.NoisyLinearImputation(noise=0.05, seed=1)(constant, removed)
    np.testing.assert_array_equal(noisy[~removed], constant[~removed])
    imputed = noisy[removed] - 0.7
    assert abs(imputed.mean()) < 0.01 and imputed.std() == pytest.approx(0.05, rel=0.15)
    again = evaluation.NoisyLinearImputation(noise=0.05, seed=1)(constant, removed)
    np.testing.assert_array_equal(again, noisy)
    other = evaluation.NoisyLinearImputation(noise=0.05, seed=2)(constant, removed)
    assert not np.array_equal(other, noisy)


def test_region_relevance_sums_squares():
    maps = np.arange(16, dtype=float).reshape(1, 4, 4)
    np.testing.assert_allclose(
        evaluation.region_relevance(maps, 2), [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]
    )


def test_similarity_measures_on_known_cases():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 16, 16))
    np.testing.assert_allclose(evaluation.spearman(maps, maps), 1.0)
    np.testing.assert_allclose(evaluation.spearman(maps, -maps), -1.0)
    np.testing.assert_allclose(evaluation.ssim(maps, maps), 1.0)
    assert np.all(evaluation.ssim(maps, rng.random((3, 16, 16))) < 0.3)
    assert np.all(np.abs(evaluation.spearman(maps, rng.random((3, 16, 16)))) < 0.2)


@pytest.mark.slow
def test_cascading_randomisation_goes_top_down_and_leaves_the_original_alone():
    from lrp_helpers.models import mini_vgg

    model = mini_vgg()
    before = model.get_weights()
    layer_of = [layer.name for layer in model.layers for _ in layer.weights]  # the layer of each weight
    stages = []
    for name, weights in evaluation.cascading_randomisation(model, seed=0):
        changed = {layer_of[i] for i, (a, b) in enumerate(zip(before, weights)) if not np.array_equal(a, b)}
        stages.append((name, changed))
    top_down = ["logits", "dense", "block2_conv2", "block2_conv1", "block1_conv2", "block1_conv1"]
    assert [name for name, _ in stages] == top_down
    assert [changed for _, changed in stages] == [set(top_down[: k + 1]) for k in range(len(top_down))]
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.slow
def test_randomise_layer_changes_that_layer_only():
    from lrp_helpers.models import mini_vgg

    model = mini_vgg()
    weights = model.get_weights()
    kept = [w.copy() for w in weights]
    randomised = evaluation.randomise_layer(model, weights, "dense", np.random.default_rng(0))
    kernel, bias = model.get_layer("dense").get_weights()
    changed = [i for i, (a, b) in enumerate(zip(weights, randomised)) if not np.array_equal(a, b)]
    assert len(changed) == 1 and randomised[changed[0]].shape == kernel.shape
    assert not np.any(randomised[changed[0] + 1]) and randomised[changed[0] + 1].shape == bias.shape
    assert all(np.array_equal(a, b) for a, b in zip(weights, kept))
    with pytest.raises(ValueError, match="no layer 'dens'"):
        evaluation.randomise_layer(model, weights, "dens", np.random.default_rng(0))


@pytest.mark.slow
def test_a_stage_loads_in_its_own_graph_and_leaves_the_default_graph_alone():
    import tensorflow as tf

    from lrp_helpers import models

    model = models.mini_vgg()
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    name, weights = evaluation.cascading_randomisation(model, seed=0)[0]
    operations = len(tf.compat.v1.get_default_graph().get_operations())
    with models.copy_in_own_graph(model, weights) as randomised:
        assert randomised.get_layer(name).get_weights()[1].max() == 0  # the stage's weights: a zero bias
        randomised_logits = models.logits(randomised, images)
    assert len(tf.compat.v1.get_default_graph().get_operations()) == operations
    original_logits = models.logits(model, images)
    assert not np.allclose(randomised_logits, original_logits)
    with models.copy_in_own_graph(model) as copy:
        np.testing.assert_allclose(models.logits(copy, images), original_logits, rtol=1e-5, atol=1e-6)


def test_random_kernel_has_glorot_scale_and_follows_the_generator():
    limit = np.sqrt(6 / 500)
    kernel = evaluation.random_kernel((200, 300), np.float32, np.random.default_rng(0))
    assert kernel.dtype == np.float32
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    same = evaluation.random_kernel((200, 300), np.float32, np.random.default_rng(0))
    np.testing.assert_array_equal(same, kernel)
    assert not np.array_equal(evaluation.random_kernel((200, 300), np.float32, np.random.default_rng(1)), kernel)


def test_random_conv_kernel_counts_the_receptive_field():
    kernel = evaluation.random_kernel((3, 3, 32, 64), np.float32, np.random.default_rng(0))
    limit = np.sqrt(6 / (9 * 32 + 9 * 64))  # fan in and fan out include the 3 x 3 window
    assert kernel.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)


@pytest.mark.slow
def test_lrp_epsilon_beats_a_random_ordering_on_the_committed_model(cifar10_dir):
    from lrp_helpers import data, methods, models

    model = models.load_model(models.model_path(quick=False))
    images = data.load_cifar10(cifar10_dir, train_size=10, test_size=30).x_test
    targets = models.logits(model, images).argmax(axis=1)
    mean_colour = np.broadcast_to(np.float32(data.TRAIN_MEAN), images.shape)
    scores = {}
    for method in ("lrp.epsilon", "random"):
        maps = methods.relevance_maps(model, images, method, target=targets)
        order = evaluation.region_order(maps, region=4)
        curves = evaluation.perturbation_curves(
            lambda x: models.logits(model, x), images, targets, order, mean_colour, region=4, steps=16
        )
        scores[method] = evaluation.aopc(curves).mean()
    assert scores["lrp.epsilon"] > scores["random"], scores


def test_removed_pixels_are_the_regions_perturbation_has_replaced():
    rng = np.random.default_rng(1)
    images = rng.random((3, 8, 8, 1))
    order = np.argsort(rng.random((3, 16)), axis=1)
    marker = np.full_like(images, -1.0)  # a replacement no pixel has
    batches = []

    def f(batch):
        batches.append(batch.copy())
        return np.zeros((len(batch), 2))

    evaluation.perturbation_curves(f, images, np.zeros(3, dtype=int), order, marker, region=2, steps=5)
    last = np.concatenate(batches)[-3:]  # the images after the fifth step
    removed = evaluation.removed_pixels(order, 5, 2, (3, 8, 8))
    np.testing.assert_array_equal(removed, last[..., 0] == -1.0)
    assert removed.sum() == 3 * 5 * 4
