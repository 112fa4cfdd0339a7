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

from . import analysis, canonize, plotting
from . import reference as ref


@dataclass(frozen=True)
class Method:
    """A method the explorer offers. `source` says who computes it: "innvestigate" (an iNNvestigate
    method name, or a reference rule computed by iNNvestigate) or "reference" (the NumPy reference:
    γ and the composite, whose γ iNNvestigate matches only on the canonized network)."""

    source: str
    name: str = ""
    parameter: str | None = None
    values: tuple = ()
    default: float | None = None


METHODS = {
    "LRP-ε": Method("innvestigate", "epsilon", "epsilon", (0.01, 0.1, 0.25, 1.0, 10.0), 0.1),
    "LRP-αβ": Method("innvestigate", "alpha_beta", "alpha", (1.0, 2.0, 3.0), 2.0),
    "LRP z⁺": Method("innvestigate", "z_plus"),
    "LRP-γ (reference)": Method("reference", "gamma", "gamma", (0.1, 0.25, 0.5, 1.0), 0.25),
    "LRP composite (reference)": Method("reference", "composite"),
    "gradient": Method("innvestigate", "gradient"),
    "input × gradient": Method("innvestigate", "input_t_gradient"),
}
NETWORKS = ("canonized", "as trained")
TARGETS = ("predicted", "true")
SYMBOLS = {"epsilon": "ε", "alpha": "α", "gamma": "γ"}


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
            self.networks = {name: ref.from_keras(keras_model) for name, keras_model in self.models.items()}
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
        """"predicted", "true", a class name, or a class index -> a class index."""
        if target == "predicted":
            return int(self.probabilities[index].argmax())
        if target == "true":
            return int(self.data.y_test[index])
        if isinstance(target, str):
            if target not in self.data.class_names:
                raise ValueError(f"unknown class {target!r}; choose from {self.data.class_names}")
            return self.data.class_names.index(target)
        if not 0 <= int(target) < self.data.num_classes:
            raise ValueError(f"class index must be in 0..{self.data.num_classes - 1}, got {target}")
        return int(target)

    def _innvestigate(self, method: Method, value, network: str):
        key = (network, method.name, value)
        if key not in self._analyzers:
            how = self._rule(method, value, network) if method.name in RULES else method.name
            self._analyzers[key] = analysis.Analyzer(self.models[network], how)
            self.builds += 1
        return self._analyzers[key]

    def _rule(self, method: Method, value, network: str):
        return RULES[method.name](value, self.networks[network])

    def explain(self, index: int, method: str = "LRP-ε", value=None, target="predicted",
                network: str = "canonized") -> Result:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose from {NETWORKS}")
        spec = METHODS[method]
        value = spec.default if value is None else value
        if spec.parameter is not None and value not in spec.values:
            raise ValueError(f"{spec.parameter} for {method} must be one of {spec.values}, got {value}")
        image = self.data.x_test[index : index + 1]
        target_class = self.target_class(index, target)
        start = time.perf_counter()
        if spec.source == "innvestigate":
            with self.model_graph():
                relevance = self._innvestigate(spec, value, network).analyze(image, target_class)[0]
        else:
            relevance = self.networks[network].explain(image, self._rule(spec, value, network), target_class).input[0]
        seconds = time.perf_counter() - start
        probabilities = self.probabilities[index]
        top = np.argsort(probabilities)[::-1][:5]
        return Result(index, image[0], relevance, method, value, network, target_class, int(self.data.y_test[index]),
                      [(int(c), float(probabilities[c])) for c in top], self.data.class_names, seconds)


# The LRP rules the explorer offers, as reference rules: (parameter value, reference network) -> rule.
# On the network as trained, BatchNorm layers get the same rule (iNNvestigate's convention), except
# under γ, where they get ε = 0.25 (γ would divide by almost nothing where BatchNorm maps a ReLU
# zero close to zero).
RULES = {
    "epsilon": lambda value, network: ref.Epsilon(value),
    "alpha_beta": lambda value, network: ref.AlphaBeta(value, value - 1),
    "z_plus": lambda value, network: ref.ZPlus(),
    "gamma": lambda value, network: ref.Composite(ref.Gamma(value), by_type={ref.ChannelAffine: ref.Epsilon(0.25)}),
    "composite": lambda value, network: ref.depth_composite(network),
}


def render(result: Result, fig=None):
    """Image, heatmap and the top-5 probabilities side by side."""
    fig = fig or plt.figure(figsize=(10, 3.2))
    fig.clear()
    image_ax, map_ax, bar_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    names = result.class_names
    image_ax.imshow(result.image)
    image_ax.set_title(f"test image {result.index}\ntrue: {names[result.true_label]}", fontsize=9)
    image_ax.axis("off")
    shown = plotting.show_heatmap(map_ax, plotting.relevance_map(result.relevance),
                                  f"{method_label(result)}\nexplaining: {names[result.target]}")
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
    """The method and its parameter, e.g. "LRP-ε, ε = 0.1"."""
    parameter = METHODS[result.method].parameter
    label = result.method + (f", {SYMBOLS[parameter]} = {result.value:g}" if parameter else "")
    return label + (" (as trained)" if result.network == "as trained" else "")


def describe(result: Result) -> str:
    """One line naming what is shown and how long the analysis took (the app's status line)."""
    names = result.class_names
    return (f"test image {result.index} ({names[result.true_label]}), {method_label(result)}, "
            f"explaining {names[result.target]}: analysis took {result.seconds:.2f} s")


def app(explorer: Explorer, seed: int = 0):
    """The ipywidgets user interface; returns the widget to display."""
    import ipywidgets as widgets
    from IPython.display import display

    names = list(explorer.data.class_names)
    rng = np.random.default_rng(seed)
    class_choice = widgets.Dropdown(options=names, value=names[0], description="class")
    # Sliders report only where they are released: each value can mean an analyzer build.
    position = widgets.IntSlider(0, 0, explorer.images_in_class(names[0]) - 1, description="image #",
                                 continuous_update=False)
    random_button = widgets.Button(description="random image")
    method = widgets.Dropdown(options=list(METHODS), value="LRP-ε", description="method")
    value = widgets.SelectionSlider(options=METHODS["LRP-ε"].values, value=0.1, description="ε",
                                    continuous_update=False)
    target = widgets.Dropdown(options=list(TARGETS) + names, value="predicted", description="explain")
    network = widgets.Dropdown(options=list(NETWORKS), value="canonized", description="network")
    status = widgets.Label()
    output = widgets.Output()
    for name, widget in (("class", class_choice), ("image", position), ("random", random_button),
                         ("method", method), ("parameter", value), ("target", target), ("network", network),
                         ("status", status), ("heatmap", output)):
        widget.add_class(f"lrp-explorer-{name}")  # stable names for styling and the browser test
    state = {"index": explorer.image_index(names[0], 0), "error": None}

    def update(*_):
        """Explain and redraw. A failure is shown in the app itself: the status line names it and
        the output area shows the traceback (a widget callback's error would otherwise reach only
        JupyterLab's log console)."""
        try:
            spec = METHODS[method.value]
            result = explorer.explain(state["index"], method.value,
                                      value.value if spec.parameter else None, target.value, network.value)
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
        spec = METHODS[method.value]
        value.disabled = spec.parameter is None
        if spec.parameter is not None:
            value.unobserve(update, "value")
            value.options, value.value = spec.values, spec.default
            value.description = SYMBOLS[spec.parameter] + (" (β = α−1)" if spec.parameter == "alpha" else "")
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
    controls = widgets.VBox([widgets.HBox([class_choice, position, random_button]),
                             widgets.HBox([method, value, target, network]), status])
    box = widgets.VBox([controls, output])
    box.state = state  # which image is shown, the last result, and the last error (None if it worked)
    return box
