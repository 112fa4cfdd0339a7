"""The method registry, the target vocabulary and the logits helper."""

import numpy as np
import pytest
import tensorflow as tf

from lrp_helpers import data, methods, models, rules, targets
from lrp_helpers import reference as ref

LOGITS = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
CLASS_NAMES = ("cat", "dog", "emu")


@pytest.fixture(scope="module")
def images(cifar10_dir):
    return data.load_cifar10(cifar10_dir, train_size=10, test_size=20).x_test[:6]


@pytest.mark.parametrize(
    "target, expected",
    [
        ("predicted", [1, 0]),
        ("true", [2, 2]),
        ("emu", [2, 2]),
        (1, [1, 1]),
        (np.array([0, 2]), [0, 2]),
    ],
)
def test_one_target_vocabulary(target, expected):
    resolved = targets.resolve(target, LOGITS, labels=[2, 2], class_names=CLASS_NAMES)
    assert resolved.dtype == np.int64 and resolved.tolist() == expected


@pytest.mark.parametrize(
    "target, error, message",
    [
        ("true", ValueError, "needs the images' labels"),
        ("unicorn", ValueError, r"a class name \(cat, dog, emu\).*got 'unicorn'"),
        (3, ValueError, r"must be in 0\.\.2"),
        (1.0, TypeError, "must be integers"),
        ([0, 1, 2], ValueError, r"one target class per image \(2\)"),
    ],
)
def test_bad_targets_get_clear_errors(target, error, message):
    with pytest.raises(error, match=message):
        targets.resolve(target, LOGITS, class_names=CLASS_NAMES)


def test_labels_and_bad_values():
    assert methods.get("lrp.epsilon").label() == "LRP-ε (ε = 0.1)"
    assert methods.get("lrp.alpha_beta").label(3.0) == "LRP-αβ (α = 3, β = 2)"
    assert methods.get("gradient").label() == "gradient"
    with pytest.raises(ValueError, match="unknown method 'saliency'; choose from lrp.0, "):
        methods.get("saliency")
    with pytest.raises(ValueError, match=r"epsilon for LRP-ε must be one of \(0.01, "):
        methods.get("lrp.epsilon").value(0.3)
    with pytest.raises(ValueError, match="takes no parameter"):
        methods.get("lrp.z_plus").value(1.0)


def test_lrp_methods_are_rule_specs_every_engine_implements():
    network = ref.Network([ref.Dense(np.ones((2, 2)), np.zeros(2), name="logits")])
    for method in methods.REGISTRY.values():
        assert method.is_lrp == (method.attribution is None)
        if method.is_lrp:
            spec = method.spec(None, ref.linear_layers(network))
            assert isinstance(spec, (rules.Rule, rules.Composite))
            composite = rules.as_composite(spec)
            for rule in (composite.default, *composite.rules.values(), *composite.by_kind.values()):
                assert type(rule) in rules.SPECS, (method.name, rule)  # a plain definition, no engine's class
                assert type(ref.implementation(rule)) in ref.IMPLEMENTATIONS.values()
            assert method.engine in ("innvestigate", "reference")
        else:
            with pytest.raises(ValueError, match="not an LRP method"):
                method.spec()


def test_logits_are_the_output_before_the_softmax(committed, images):
    logits = models.logits(committed, images)
    probabilities = committed.predict(images, verbose=0)
    assert logits.shape == (len(images), 10)
    assert np.abs(tf.keras.backend.get_value(tf.nn.softmax(logits)) - probabilities).max() < 1e-6
    assert not np.allclose(logits, probabilities)
    assert models.logits(committed, images) is not logits  # computed afresh, the same values
    np.testing.assert_array_equal(models.logits(committed, images), logits)


@pytest.mark.slow
def test_every_method_explains_the_requested_class(canonized, images):
    targets = np.arange(len(images)) % 10
    maps = {name: methods.relevance_maps(canonized, images, name, target=targets) for name in methods.REGISTRY}
    for name, relevance in maps.items():
        assert relevance.shape == images.shape[:3] and np.all(np.isfinite(relevance)), name
    logits = models.logits(canonized, images)[np.arange(len(images)), targets]
    # LRP-0 = input × gradient (an identity on the canonized ReLU network); z⁺ conserves the logit there.
    np.testing.assert_allclose(maps["lrp.0"], maps["input_t_gradient"], atol=1e-4 * np.abs(maps["lrp.0"]).max())
    assert np.abs(maps["lrp.z_plus"].sum(axis=(1, 2)) / logits - 1).max() < 0.07
    # sensitivity sums |gradient| over the colour channels, so it bounds |gradient summed over them|
    assert np.all(maps["sensitivity"] >= np.abs(maps["gradient"]) - 1e-6)
    assert not np.allclose(maps["sensitivity"], np.abs(maps["gradient"]))


def test_both_engines_give_the_same_rule(canonized, images):
    for name in ("lrp.epsilon", "lrp.gamma"):
        by_innvestigate = methods.explain(canonized, images, name, engine="innvestigate")
        by_reference = methods.explain(canonized, images, name, engine="reference")
        assert np.abs(by_innvestigate - by_reference).max() <= 1e-4 * np.abs(by_reference).max(), name
    with pytest.raises(ValueError, match="computed by iNNvestigate only"):
        methods.explain(canonized, images, "gradient", engine="reference")


def test_the_random_baseline_is_seeded(canonized, images):
    first = methods.explain(canonized, images, "random", seed=3)
    np.testing.assert_array_equal(first, methods.explain(canonized, images, "random", seed=3))
    assert not np.array_equal(first, methods.explain(canonized, images, "random", seed=4))
