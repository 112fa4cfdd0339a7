"""The interactive explorer of notebook 07: plain functions and a small ipywidgets app on top.

    explorer = Explorer(model, cifar)
    result = explorer.explain(index=12, method="LRP-ε", value=0.1, target="predicted", network="canonized")
    render(result)                     # one matplotlib figure: image, heatmap, top-5 classes
    app(explorer)                      # the widgets (needs a live kernel to react)

Analyzers are built once per (network, method, parameter) and cached, so after the first build an
update only runs one image through the analyzer.

The LRP rules are applied to the canonized network by default (every BatchNorm merged into the next
linear layer, `lrp_helpers.canonize`), where their assumptions hold; "as trained" applies them to the
network with its BatchNorm layers, for comparison.

Widget callbacks may run in another thread than the one that loaded the model: JupyterLab 4.6
sends widget messages over kernel subshells (its setting "commsOverSubshells"), and in that thread
TensorFlow's default graph and Keras' session are empty ("The Session graph is empty"). So the
explorer keeps the model's graph and session and does all its TensorFlow work inside them.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from . import analysis, canonize, convert, keras_layers, methods, plotting
from . import reference as ref
from .targets import resolve as resolve_targets

# The methods offered, from the registry (`lrp_helpers.methods`). γ and the composite are computed by
# the NumPy reference (their registry engine): iNNvestigate matches them only on the canonized network.
METHODS = ("lrp.epsilon", "lrp.alpha_beta", "lrp.z_plus", "lrp.gamma", "lrp.composite", "gradient", "input_t_gradient")
NETWORKS = ("canonized", "as trained")
TARGETS = ("predicted", "true")


@dataclass
class Result:
    index: int
    image: np.ndarray
    relevance: np.ndarray
    method: str
    value: float | None
    network: str
    target: int
    true_label: int
    top5: list  # (class index, probability), most probable first
    class_names: tuple
    seconds: float


class Explorer:
    """Explains test images of `data` (an `lrp_helpers.data.CIFAR10`) with a choice of methods."""

    def __init__(self, model, data):
        import tensorflow as tf

        if tf.executing_eagerly():
            raise RuntimeError("the explorer needs graph mode: call lrp_helpers.setup_notebook() first")
        self.model, self.data = model, data
        self.graph = model.weights[0].graph if model.weights else tf.compat.v1.get_default_graph()
        with self.graph.as_default():
            self.session = tf.compat.v1.keras.backend.get_session()
        with self.model_graph():
            canonized = canonize.canonize(model)
            self.models = {"canonized": canonized, "as trained": model}
            self.networks = {name: convert.from_keras(keras_model) for name, keras_model in self.models.items()}
            self.probabilities = model.predict(data.x_test, batch_size=500, verbose=0)
        self._analyzers: dict = {}
        self.builds = 0

    @contextlib.contextmanager
    def model_graph(self):
        """Make the model's graph and session the current ones, in whichever thread runs this."""
        with self.graph.as_default(), self.session.as_default():
            yield

    # -- choosing an image ------------------------------------------------------------------
    def image_index(self, class_name: str, position: int = 0) -> int:
        """Index of the `position`-th test image of a class (wrapping around)."""
        members = np.flatnonzero(self.data.y_test == self.data.class_names.index(class_name))
        return int(members[position % len(members)])

    def random_index(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.data.x_test)))

    def images_in_class(self, class_name: str) -> int:
        return int((self.data.y_test == self.data.class_names.index(class_name)).sum())

    # -- explaining ---------------------------------------------------------------------------
    def target_class(self, index: int, target) -> int:
        """ "predicted", "true", a class name, or a class index -> a class index (`lrp_helpers.targets`)."""
        return int(
            resolve_targets(
                target,
                self.probabilities[index : index + 1],
                self.data.y_test[index : index + 1],
                self.data.class_names,
            )[0]
        )

    def _analyzer(self, method: methods.Method, value, network: str):
        key = (network, method.name, value)
        if key not in self._analyzers:
            model = self.models[network]
            how = method.spec(value, keras_layers.linear_layers(model)) if method.is_lrp else method.attribution
            self._analyzers[key] = analysis.Analyzer(model, how)
            self.builds += 1
        return self._analyzers[key]

    def explain(
        self, index: int, method: str = "lrp.epsilon", value=None, target="predicted", network: str = "canonized"
    ) -> Result:
        """Explain test image `index` with a method of `METHODS` (a registry name) and its parameter value."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose from {NETWORKS}")
        chosen = methods.get(method)
        value = chosen.value(value)
        image = self.data.x_test[index : index + 1]
        target_class = self.target_class(index, target)
        start = time.perf_counter()
        if chosen.engine == "innvestigate":
            with self.model_graph():
                relevance = self._analyzer(chosen, value, network).analyze(image, target_class)[0]
        else:
            network_ = self.networks[network]
            rule = chosen.spec(value, ref.linear_layers(network_))
            relevance = network_.explain(image, rule, target_class).input[0]
        seconds = time.perf_counter() - start
        probabilities = self.probabilities[index]
        top = np.argsort(probabilities)[::-1][:5]
        return Result(
            index,
            image[0],
            relevance,
            method,
            value,
            network,
            target_class,
            int(self.data.y_test[index]),
            [(int(c), float(probabilities[c])) for c in top],
            self.data.class_names,
            seconds,
        )


def render(result: Result, fig=None):
    """Image, heatmap and the top-5 probabilities side by side."""
    fig = fig or plt.figure(figsize=(10, 3.2))
    fig.clear()
    image_ax, map_ax, bar_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    names = result.class_names
    image_ax.imshow(result.image)
    image_ax.set_title(f"test image {result.index}\ntrue: {names[result.true_label]}", fontsize=9)
    image_ax.axis("off")
    shown = plotting.show_heatmap(
        map_ax, plotting.relevance_map(result.relevance), f"{method_label(result)}\nexplaining: {names[result.target]}"
    )
    fig.colorbar(shown, ax=map_ax, fraction=0.046)
    classes = [names[c] for c, _ in result.top5][::-1]
    probabilities = [p for _, p in result.top5][::-1]
    colours = ["tab:red" if c == names[result.target] else "tab:grey" for c in classes]
    bar_ax.barh(classes, probabilities, color=colours)
    for row, probability in enumerate(probabilities):
        bar_ax.text(min(probability, 0.82) + 0.02, row, f"{probability:.1%}", va="center", fontsize=8)
    bar_ax.set(xlim=(0, 1), xlabel="probability", title="top-5 classes (red: explained)")
    fig.tight_layout()
    return fig


def method_label(result: Result) -> str:
    """The method and its parameter, e.g. "LRP-ε (ε = 0.1)"; the network if it is not the canonized one."""
    label = methods.get(result.method).label(result.value)
    return label + (", as trained" if result.network == "as trained" else "")


def describe(result: Result) -> str:
    """One line naming what is shown and how long the analysis took (the app's status line)."""
    names = result.class_names
    return (
        f"test image {result.index} ({names[result.true_label]}), {method_label(result)}, "
        f"explaining {names[result.target]}: analysis took {result.seconds:.2f} s"
    )


def app(explorer: Explorer, seed: int = 0):
    """The ipywidgets user interface; returns the widget to display."""
    import ipywidgets as widgets
    from IPython.display import display

    names = list(explorer.data.class_names)
    rng = np.random.default_rng(seed)
    class_choice = widgets.Dropdown(options=names, value=names[0], description="class")
    # Sliders report only where they are released: each value can mean an analyzer build.
    position = widgets.IntSlider(
        0, 0, explorer.images_in_class(names[0]) - 1, description="image #", continuous_update=False
    )
    random_button = widgets.Button(description="random image")
    method = widgets.Dropdown(
        options=[(methods.get(name).title, name) for name in METHODS], value="lrp.epsilon", description="method"
    )
    epsilon = methods.get("lrp.epsilon")
    value = widgets.SelectionSlider(
        options=epsilon.values, value=epsilon.default, description="ε", continuous_update=False
    )
    target = widgets.Dropdown(options=list(TARGETS) + names, value="predicted", description="explain")
    network = widgets.Dropdown(options=list(NETWORKS), value="canonized", description="network")
    status = widgets.Label()
    output = widgets.Output()
    for name, widget in (
        ("class", class_choice),
        ("image", position),
        ("random", random_button),
        ("method", method),
        ("parameter", value),
        ("target", target),
        ("network", network),
        ("status", status),
        ("heatmap", output),
    ):
        widget.add_class(f"lrp-explorer-{name}")  # stable names for styling and the browser test
    state = {"index": explorer.image_index(names[0], 0), "error": None}

    def update(*_):
        """Explain and redraw. A failure is shown in the app itself: the status line names it and
        the output area shows the traceback (a widget callback's error would otherwise reach only
        JupyterLab's log console)."""
        try:
            spec = methods.get(method.value)
            result = explorer.explain(
                state["index"], method.value, value.value if spec.parameter else None, target.value, network.value
            )
            state["result"], state["error"] = result, None
            status.value = describe(result) + f" ({explorer.builds} analyzers built so far)"
            with output:
                output.clear_output(wait=True)
                figure = render(result)
                display(figure)
                plt.close(figure)
        except Exception as error:  # any failure, so that the user sees it
            state["error"] = error
            status.value = f"Error: {type(error).__name__}: {error}"
            with output:
                output.clear_output(wait=True)
                print(traceback.format_exc())

    def on_class(change):
        position.max = explorer.images_in_class(class_choice.value) - 1
        position.value = 0
        state["index"] = explorer.image_index(class_choice.value, 0)
        update()

    def on_position(change):
        state["index"] = explorer.image_index(class_choice.value, position.value)
        update()

    def on_random(_):
        state["index"] = explorer.random_index(rng)
        update()

    def on_method(change):
        spec = methods.get(method.value)
        value.disabled = spec.parameter is None
        if spec.parameter is not None:
            value.unobserve(update, "value")
            value.options, value.value = spec.values, spec.default
            value.description = methods.SYMBOLS[spec.parameter] + (" (β = α−1)" if spec.parameter == "alpha" else "")
            value.observe(update, "value")
        update()

    class_choice.observe(on_class, "value")
    position.observe(on_position, "value")
    random_button.on_click(on_random)
    method.observe(on_method, "value")
    value.observe(update, "value")
    target.observe(update, "value")
    network.observe(update, "value")
    update()
    controls = widgets.VBox(
        [widgets.HBox([class_choice, position, random_button]), widgets.HBox([method, value, target, network]), status]
    )
    box = widgets.VBox([controls, output])
    box.state = state  # which image is shown, the last result, and the last error (None if it worked)
    return box
