"""The explorer's logic and widgets, without a browser."""

import matplotlib

matplotlib.use("Agg")
import copy  # noqa: E402
import threading  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrp_helpers import data, explorer, methods, models, verify  # noqa: E402
from lrp_helpers import reference as ref  # noqa: E402


@pytest.fixture(scope="module")
def explore(cifar10_dir):
    model = models.load_model(models.model_path(quick=False))
    return explorer.Explorer(model, data.load_cifar10(cifar10_dir, train_size=10, test_size=50))


def test_explain_returns_image_heatmap_and_top5(explore):
    result = explore.explain(3, "lrp.epsilon", 0.1)
    assert result.image.shape == result.relevance.shape == (32, 32, 3)
    probabilities = [p for _, p in result.top5]
    assert len(result.top5) == 5 and probabilities == sorted(probabilities, reverse=True)
    assert result.top5[0][0] == result.target  # "predicted" explains the most probable class
    assert result.true_label == explore.data.y_test[3]


@pytest.mark.parametrize("target, expected", [("true", None), ("cat", 3), (7, 7)])
def test_targets(explore, target, expected):
    result = explore.explain(5, "lrp.z_plus", target=target)
    assert result.target == (explore.data.y_test[5] if expected is None else expected)


def test_analyzers_are_cached(explore):
    explore.explain(0, "lrp.epsilon", 1.0)
    builds = explore.builds
    explore.explain(1, "lrp.epsilon", 1.0, target="true")
    explore.explain(2, "lrp.epsilon", 1.0, target="dog")
    assert explore.builds == builds
    explore.explain(0, "lrp.epsilon", 10.0)
    assert explore.builds == builds + 1


@pytest.mark.parametrize("network", explorer.NETWORKS)
def test_alpha_beta_matches_the_reference(explore, network):
    images = explore.data.x_test[:20]
    reference_network = explore.networks[network]
    index = int(np.flatnonzero(~verify.ambiguous_images(reference_network, images))[0])
    result = explore.explain(index, "lrp.alpha_beta", 2.0, network=network)
    expected = reference_network.explain(images[index : index + 1], ref.AlphaBeta(2, 1), result.target).input[0]
    assert np.abs(result.relevance - expected).max() <= 1e-4 * np.abs(expected).max()


def test_canonized_is_the_default_and_z_plus_conserves_only_there(explore):
    canonized, as_trained = explore.explain(6, "lrp.z_plus"), explore.explain(6, "lrp.z_plus", network="as trained")
    assert canonized.network == "canonized" and ", as trained" in explorer.describe(as_trained)
    explained = explore.networks["canonized"].logits(explore.data.x_test[6:7])[0, canonized.target]
    assert abs(canonized.relevance.sum() / explained - 1) < 1e-3
    assert abs(as_trained.relevance.sum() / explained - 1) > 0.1


def test_reference_methods(explore):
    gamma = explore.explain(4, "lrp.gamma", 0.5)
    composite = explore.explain(4, "lrp.composite")
    assert np.all(np.isfinite(gamma.relevance)) and np.all(np.isfinite(composite.relevance))
    assert not np.allclose(gamma.relevance, composite.relevance)


def test_clear_errors(explore):
    with pytest.raises(ValueError, match="unknown method"):
        explore.explain(0, "saliency")
    with pytest.raises(ValueError, match="unknown network"):
        explore.explain(0, "lrp.epsilon", network="raw")
    with pytest.raises(ValueError, match="must be one of"):
        explore.explain(0, "lrp.epsilon", 0.3)
    with pytest.raises(ValueError, match="got 'unicorn'"):
        explore.explain(0, "lrp.epsilon", target="unicorn")
    with pytest.raises(ValueError, match=r"must be in 0\.\.9"):
        explore.explain(0, "lrp.epsilon", target=12)


def test_image_choice(explore):
    first_cat = explore.image_index("cat", 0)
    assert explore.data.y_test[first_cat] == 3
    assert explore.image_index("cat", explore.images_in_class("cat")) == first_cat  # wraps around
    assert 0 <= explore.random_index(np.random.default_rng(0)) < len(explore.data.x_test)


def test_render_draws_image_heatmap_and_bars(explore):
    figure = explorer.render(explore.explain(0, "gradient"))
    titles = [ax.get_title() for ax in figure.axes]
    assert any("test image 0" in t for t in titles) and any("top-5" in t for t in titles)
    assert len(figure.axes) == 4  # image, heatmap, colour bar, bars


def _bar_labels(figure):
    return [label.get_text() for label in figure.axes[2].get_yticklabels()]


def test_the_explained_class_always_has_a_bar(explore):
    result = explore.explain(0, "lrp.z_plus", target="predicted")
    assert len(_bar_labels(explorer.render(result))) == 5
    last = int(np.argsort(result.probabilities)[0])  # the least probable class
    unlikely = explore.explain(0, "lrp.z_plus", target=last)
    assert unlikely.target_rank == 10
    labels = _bar_labels(explorer.render(unlikely))
    assert len(labels) == 6 and labels[-1] == f"{explore.data.class_names[last]} (#10)"


def test_render_scale_and_overlay(explore):
    result = explore.explain(0, "lrp.z_plus")
    own = explorer.render(result)
    assert own.axes[3].get_ylim()[1] == pytest.approx(np.abs(result.relevance.sum(axis=-1)).max(), rel=1e-6)
    common = explorer.render(result, overlay=True, limit=2.0)
    assert common.axes[3].get_ylim() == pytest.approx((-2.0, 2.0))
    assert len(common.axes[1].images) == 2  # the image in grey, the heatmap over it
    assert "ΣR = " in common.axes[1].get_title()


def test_offer_changes_this_explorer_only(explore):
    registry_values = methods.get("lrp.epsilon").values
    other = copy.copy(explore)
    other.methods = dict(explore.methods)
    other.offer("lrp.epsilon", (0.1, 3.0, 1.0))
    assert other.methods["lrp.epsilon"].values == (0.1, 1.0, 3.0) and other.methods["lrp.epsilon"].default == 0.1
    assert methods.get("lrp.epsilon").values == registry_values == explore.methods["lrp.epsilon"].values
    with pytest.raises(ValueError, match="takes no parameter"):
        other.offer("lrp.z_plus", (1.0,))


def test_opens_on_a_readable_method(explore):
    box = explorer.app(explore)
    assert box.state["result"].method == explorer.DEFAULT_METHOD == "lrp.conv_alpha_beta"
    assert box.controls["overlay"].value and box.controls["parameter"].value == 1.0


def test_neighbour_correlation():
    smooth = np.tile(np.linspace(0, 1, 32)[:, None, None], (1, 32, 3))
    speckle = np.random.default_rng(0).normal(size=(32, 32, 3))
    assert explorer.neighbour_correlation(smooth) > 0.95 and abs(explorer.neighbour_correlation(speckle)) < 0.1


def test_show_image_and_common_scale(explore):
    box = explorer.app(explore)
    index = explore.image_index("dog", 1)
    box.show_image(index)
    assert box.state["result"].index == index and box.controls["class"].value == "dog"
    assert box.controls["image"].value == 1
    box.controls["method"].value = "lrp.z_plus"
    box.controls["scale"].value = explorer.SCALES[1]
    box.controls["network"].value = "as trained"
    assert box.state["error"] is None and box.state["result"].network == "as trained"


def test_widgets_react_to_changes(explore):
    box = explorer.app(explore)
    controls = box.controls
    class_choice, position, random_button = controls["class"], controls["image"], controls["random"]
    method, value, target, network = controls["method"], controls["parameter"], controls["target"], controls["network"]
    status = controls["status"]
    assert "analysis took" in status.value and box.state["result"].method == explorer.DEFAULT_METHOD
    class_choice.value = "ship"
    assert explore.data.y_test[box.state["index"]] == 8 and box.state["result"].index == box.state["index"]
    position.value = 2
    assert box.state["index"] == explore.image_index("ship", 2) == box.state["result"].index
    method.value = "lrp.alpha_beta"
    assert value.options == (1.0, 2.0, 3.0) and value.value == 2.0 and not value.disabled
    assert box.state["result"].method == "lrp.alpha_beta" and box.state["result"].value == 2.0
    value.value = 3.0
    assert box.state["result"].value == 3.0
    method.value = "lrp.z_plus"
    assert value.disabled and box.state["result"].method == "lrp.z_plus"
    target.value = "true"
    assert box.state["result"].target == explore.data.y_test[box.state["index"]]
    target.value = "frog"
    assert box.state["result"].target == 6
    random_button.click()
    assert box.state["result"].index == box.state["index"]
    assert box.state["result"].network == "canonized"
    network.value = "as trained"
    assert box.state["result"].network == "as trained" and ", as trained" in status.value


def test_widget_callbacks_work_in_another_thread(explore):
    """JupyterLab 4.6 runs widget callbacks over kernel subshells, in another thread, where
    TensorFlow's default graph and Keras' session are empty: a change that needs a new analyzer
    must still build it from the model's own graph and session."""
    box = explorer.app(explore)
    method = box.controls["method"]
    builds = explore.builds
    failures = []

    def change_method():
        try:
            method.value = "input_t_gradient"
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    worker = threading.Thread(target=change_method)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive() and not failures
    assert box.state["error"] is None, box.state["error"]
    assert explore.builds == builds + 1 and box.state["result"].method == "input_t_gradient"
    assert box.controls["status"].value.startswith(f"test image {box.state['index']} ")


def test_callback_errors_are_shown_in_the_app(explore, monkeypatch):
    box = explorer.app(explore)
    target, status = box.controls["target"], box.controls["status"]

    def broken(*args, **kwargs):
        raise RuntimeError("The Session graph is empty")

    monkeypatch.setattr(explore, "explain", broken)
    target.value = "true"  # the callback must not raise: its error goes to the app
    assert status.value == "Error: RuntimeError: The Session graph is empty"
    assert isinstance(box.state["error"], RuntimeError)
