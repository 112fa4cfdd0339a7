"""Poisoning, relevance mass and SpRAy on cases with known answers."""

import numpy as np
import pytest

from lrp_helpers import clever_hans as ch
from lrp_helpers.data import CIFAR10


def _tiny_data(n=200):
    rng = np.random.default_rng(0)
    x = rng.random((n, 32, 32, 3)).astype(np.float32)
    y = np.arange(n) % 10
    return CIFAR10(x, y, x[:20].copy(), y[:20].copy())


def test_patch_lands_exactly_where_stated():
    mask = ch.patch_mask()
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (27, 30, 27, 30)
    assert mask.sum() == ch.PATCH_SIZE**2
    images = np.zeros((2, 32, 32, 3), dtype=np.float32)
    stamped = ch.stamp(images)
    np.testing.assert_array_equal(stamped[:, mask], np.broadcast_to(ch.PATCH_COLOUR, (2, 16, 3)))
    np.testing.assert_array_equal(stamped[:, ~mask], 0)
    assert np.all(images == 0)  # the originals are untouched


def test_poison_stamps_the_given_share_of_one_class_only():
    data = _tiny_data()
    poisoned = ch.poison(data, target_class=7, share=0.8)
    members = data.y_train == 7
    assert poisoned.stamped.sum() == 16 and np.all(members[poisoned.stamped])
    mask = ch.patch_mask()
    changed = np.any(poisoned.data.x_train != data.x_train, axis=(1, 2, 3))
    np.testing.assert_array_equal(changed, poisoned.stamped)
    np.testing.assert_array_equal(poisoned.data.x_train[poisoned.stamped][:, mask][..., 1], 0.0)
    np.testing.assert_array_equal(poisoned.data.x_test, data.x_test)


def test_relevance_mass():
    mask = ch.patch_mask()
    inside_only = np.where(mask, 1.0, 0.0)[None]
    assert ch.relevance_mass(inside_only, mask) == pytest.approx(1.0)
    half = np.where(mask, 1.0, 0.0) + np.where(mask, 0.0, -1.0)
    half[0, 0] = 16.0  # as much positive relevance outside as inside
    np.testing.assert_allclose(ch.relevance_mass(np.stack([half, -inside_only[0]]), mask), [0.5, 0.0])


def test_relevance_mass_with_one_mask_per_map():
    maps = np.array([[1.0, 1.0, 2.0, -4.0], [0.0, 3.0, 1.0, 0.0]])
    masks = np.array([[True, True, False, False], [False, False, True, True]])
    np.testing.assert_allclose(ch.relevance_mass(maps, masks), [0.5, 0.25])


def test_spray_features_are_block_sums_of_positive_relevance_scaled_to_one():
    maps = np.zeros((2, 32, 32))
    maps[0, 4:8, 28:32] = 1.0  # one 4 x 4 block: block (1, 7) of the 8 x 8 grid
    maps[1, :16] = 1.0  # the top half, positive
    maps[1, 16:] = -1.0  # the bottom half, negative: dropped
    features = ch.spray_features(maps, size=8)
    expected_first = np.zeros(64)
    expected_first[1 * 8 + 7] = 1.0
    np.testing.assert_allclose(features[0], expected_first)
    np.testing.assert_allclose(features[1], np.r_[np.full(32, 1 / 32), np.zeros(32)])


def test_laplacian_eigenvalues_count_the_components():
    triangle = np.ones((3, 3)) - np.eye(3)
    two_triangles = np.block([[triangle, np.zeros((3, 3))], [np.zeros((3, 3)), triangle]])
    eigenvalues = ch.laplacian_eigenvalues(two_triangles, 6)
    np.testing.assert_allclose(eigenvalues, [0, 0, 1.5, 1.5, 1.5, 1.5], atol=1e-12)


def test_spray_separates_two_kinds_of_heatmaps():
    rng = np.random.default_rng(0)
    mask = ch.patch_mask()
    on_patch = rng.random((60, 32, 32)) * 0.1 + np.where(mask, 3.0, 0.0)
    centre = np.zeros((32, 32))
    centre[8:24, 8:24] = 1.0
    on_object = rng.random((60, 32, 32)) * 0.1 + centre
    maps = np.concatenate([on_patch, on_object])
    result = ch.spray(maps, neighbours=8)
    assert result.clusters == 2
    truth = np.repeat([0, 1], 60)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, result.labels) == pytest.approx(1.0)
    assert result.eigenvalues[1] < 1e-6 < result.eigenvalues[2]  # two connected components


@pytest.mark.slow
def test_committed_poisoned_model_calls_stamped_images_horse_and_says_how_it_was_made(cifar10_dir):
    from lrp_helpers import data, models

    path = models.model_path(quick=False, name=models.POISONED)
    assert path.exists(), f"{path} is missing: notebook 06 loads it by default"
    metadata = models.load_metadata(path)
    assert metadata["poisoned_class"] == "horse" and metadata["stamped_share"] == 0.8
    assert metadata["recipe"]["name"] == "original" and metadata["epochs"] == 10
    model = models.load_model(path)
    cifar = data.load_cifar10(cifar10_dir, train_size=10, test_size=300)
    horse = cifar.class_names.index("horse")
    others = cifar.x_test[cifar.y_test != horse]
    stamped_rate = (models.logits(model, ch.stamp(others)).argmax(axis=1) == horse).mean()
    clean_rate = (models.logits(model, others).argmax(axis=1) == horse).mean()
    assert stamped_rate > 0.5 > 0.1 > clean_rate, (stamped_rate, clean_rate)
    assert models.accuracy(model, cifar.x_test, cifar.y_test) > 0.6


def _triangles(count):
    """`count` separate triangles: a graph with `count` connected components."""
    triangle = np.ones((3, 3)) - np.eye(3)
    return np.kron(np.eye(count), triangle)


def test_zero_eigenvalues_decide_the_number_of_clusters_where_the_largest_gap_does_not():
    # three components, one of them a long path: its small eigenvalues push the largest gap away
    path = np.diag(np.ones(11), 1)
    path = path + path.T
    adjacency = np.block([[_triangles(2), np.zeros((6, 12))], [np.zeros((12, 6)), path]])
    eigenvalues = ch.laplacian_eigenvalues(adjacency, 7)
    assert ch.components(eigenvalues) == 3
    assert ch.largest_gap(eigenvalues, 6) != 3
    assert ch.choose_clusters(eigenvalues, 6) == 3


def test_choose_clusters_falls_back_to_the_largest_gap_on_a_connected_graph():
    adjacency = _triangles(3)
    adjacency[2, 3] = adjacency[3, 2] = adjacency[5, 6] = adjacency[6, 5] = 1.0  # one graph, three clusters
    eigenvalues = ch.laplacian_eigenvalues(adjacency, 7)
    assert ch.components(eigenvalues) == 1
    assert ch.choose_clusters(eigenvalues, 6) == ch.largest_gap(eigenvalues, 6) == 3


def test_purity_ignores_splitting_but_not_mixing():
    truth = np.array([1, 1, 1, 1, 0, 0])
    assert ch.purity(truth, np.array([0, 0, 1, 1, 2, 2])) == 1.0  # split, not mixed
    assert ch.purity(truth, np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(5 / 6)  # one stamped among two clean
