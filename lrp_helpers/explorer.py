"""The interactive explorer of notebook 07: plain functions and a small ipywidgets app on top.

    explorer = Explorer(model, cifar)
    result = explorer.explain(index=12, method="lrp.conv_alpha_beta", target="predicted", network="canonized")
    render(result, overlay=True)       # one matplotlib figure: image, heatmap, top-5 classes
    explorer.offer("lrp.epsilon", (0.1, 1.0, 3.0))  # this explorer's parameter values (the registry keeps its own)
    app(explorer)                      # the widgets (needs a live kernel to react)

Analyzers are built once per (network, method, parameter) and cached, so after the first build an
update only runs one image through the analyzer.

The LRP rules are applied to the canonized network by default (every BatchNorm merged into the next
linear layer, `lrp_helpers.canonize`), where every linear layer reads the non-negative inputs z⁺, αβ
and γ are derived for (the merged biases stay positive for most units); "as trained" applies them to the
network with its BatchNorm layers, for comparison.

Widget callbacks may run in another thread than the one that loaded the model: JupyterLab 4.6
sends widget messages over kernel subshells (its setting "commsOverSubshells"), and in that thread
TensorFlow's default graph and Keras' session are empty ("The Session graph is empty"). So the
explorer keeps the model's graph and session and does all its TensorFlow work inside them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from . import analysis, canonize, convert, keras_layers, methods, models, plotting
from . import reference as ref
from .targets import resolve as resolve_targets

# The methods offered, from the registry (`lrp_helpers.methods`). γ and the composite are computed by
# the NumPy reference (their registry engine): iNNvestigate matches them only on the canonized network.
METHODS = (
    "lrp.conv_alpha_beta",
    "lrp.epsilon",
    "lrp.alpha_beta",
    "lrp.z_plus",
    "lrp.gamma",
    "lrp.composite",
    "gradient",
    "input_t_gradient",
)
# The app opens on αβ in the convolutions and ε in the dense layers (Kohlbrenner et al. 2020): on a 32×32
# image its map shows the object's outline, where LRP-ε's is speckle.
DEFAULT_METHOD = "lrp.conv_alpha_beta"
NETWORKS = ("canonized", "as trained")
TARGETS = ("predicted", "true")
SCALES = ("each map its own", "as the canonized map")  # the heatmap's colour limits


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
    probabilities: np.ndarray  # of every class
    logit: float  # the explained class's logit: what an LRP map's relevance adds up to if it is conserved

    @property
    def target_rank(self) -> int:
        """1 for the most probable class."""
        return int((self.probabilities > self.probabilities[self.target]).sum()) + 1


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
            self.logits = models.logits(model, data.x_test)
        self.probabilities = _softmax(self.logits)
        self.methods = {name: methods.get(name) for name in METHODS}
        self._analyzers: dict = {}
        self.builds = 0

    def offer(self, method: str, values) -> None:
        """Offer other parameter `values` for `method` in this explorer (and its app), e.g.
        `offer("lrp.epsilon", (0.1, 1.0, 3.0, 10.0))`; the registry, `lrp_helpers.methods`, keeps its own."""
        chosen = self._method(method)
        if chosen.parameter is None:
            raise ValueError(f"{chosen.title} takes no parameter")
        values = tuple(sorted(float(v) for v in values))
        default = chosen.default if chosen.default in values else values[0]
        self.methods[method] = dataclasses.replace(chosen, values=values, default=default)

    def _method(self, method: str) -> methods.Method:
        if method not in self.methods:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(self.methods)}")
        return self.methods[method]

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
        self, index: int, method: str = DEFAULT_METHOD, value=None, target="predicted", network: str = "canonized"
    ) -> Result:
        """Explain test image `index` with a method of `METHODS` (a registry name) and its parameter value."""
        chosen = self._method(method)
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; choose from {NETWORKS}")
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
            probabilities,
            float(self.logits[index, target_class]),
        )


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def render(result: Result, overlay: bool = False, limit: float | None = None, fig=None):
    """The image, the heatmap (on the image if `overlay`) and the most probable classes, side by side.

    The heatmap's colours run from −limit (blue) to +limit (red), in the relevance's own units (those of
    the logit); `limit` defaults to the map's largest |relevance|. Give two maps the same `limit` to compare
    them. The bar chart shows the top 5 classes and, if it is not among them, the explained class.
    """
    fig = fig or plt.figure(figsize=(11, 4.2))
    fig.clear()
    image_ax, map_ax, bar_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [0.8, 1.6, 1.1]})
    names = result.class_names
    image_ax.imshow(result.image)
    image_ax.set_title(f"test image {result.index}\ntrue: {names[result.true_label]}", fontsize=10)
    image_ax.axis("off")
    relevance = plotting.relevance_map(result.relevance)
    limit = limit or float(np.abs(relevance).max()) or 1.0
    title = f"{method_label(result)}\nexplaining: {names[result.target]}"
    if methods.get(result.method).is_lrp:
        title += f"; ΣR = {relevance.sum():.2f}, logit {result.logit:.2f}"
    shown = plotting.show_relevance(map_ax, relevance, limit, image=result.image if overlay else None)
    map_ax.set_title(title, fontsize=10)
    fig.colorbar(shown, ax=map_ax, fraction=0.046, pad=0.03, label="relevance per pixel")
    _class_bars(bar_ax, result)
    fig.tight_layout()
    return fig


def _class_bars(ax, result: Result) -> None:
    """The top-5 classes, and the explained class below them if it is not among them (with its rank)."""
    names = result.class_names
    shown = [c for c, _ in result.top5]
    labels = [names[c] for c in shown]
    if result.target not in shown:
        shown.append(result.target)
        labels.append(f"{names[result.target]} (#{result.target_rank})")
    probabilities = [float(result.probabilities[c]) for c in shown]
    colours = ["tab:red" if c == result.target else "tab:grey" for c in shown]
    rows = np.arange(len(shown))[::-1]
    ax.barh(rows, probabilities, color=colours)
    ax.set_yticks(rows, labels)
    for row, probability in zip(rows, probabilities):
        ax.text(min(probability, 0.78) + 0.02, row, f"{probability:.1%}", va="center", fontsize=9)
    ax.set(xlim=(0, 1), xlabel="probability", title="top-5 classes (red: explained)")


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
        options=[(spec.title, name) for name, spec in explorer.methods.items()],
        value=DEFAULT_METHOD,
        description="method",
    )
    value = widgets.SelectionSlider(options=[0.0], description="", continuous_update=False)
    _show_parameter(value, explorer.methods[DEFAULT_METHOD])
    target = widgets.Dropdown(options=list(TARGETS) + names, value="predicted", description="explain")
    network = widgets.Dropdown(options=list(NETWORKS), value="canonized", description="network")
    overlay = widgets.Checkbox(value=True, description="heatmap on the image")
    scale = widgets.Dropdown(options=list(SCALES), value=SCALES[0], description="colours")
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
        ("overlay", overlay),
        ("scale", scale),
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
            chosen = (state["index"], method.value, value.value if explorer.methods[method.value].parameter else None)
            result = explorer.explain(*chosen, target.value, network.value)
            limit = None
            if scale.value == SCALES[1]:  # the canonized network's map of the same image, method and class
                limit = np.abs(plotting.relevance_map(explorer.explain(*chosen, target.value).relevance)).max()
            state["result"], state["error"] = result, None
            status.value = describe(result) + f" ({explorer.builds} analyzers built so far)"
            with output:
                output.clear_output(wait=True)
                figure = render(result, overlay=overlay.value, limit=limit)
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
        value.unobserve(update, "value")
        _show_parameter(value, explorer.methods[method.value])
        value.observe(update, "value")
        update()

    def show_image(index: int) -> None:
        """Show test image `index`, as if the user had chosen its class and its position in the class."""
        label = explorer.data.class_names[explorer.data.y_test[index]]
        members = np.flatnonzero(explorer.data.y_test == explorer.data.y_test[index]).tolist()
        class_choice.unobserve(on_class, "value")
        position.unobserve(on_position, "value")
        class_choice.value = label
        position.max = len(members) - 1
        position.value = members.index(index)
        class_choice.observe(on_class, "value")
        position.observe(on_position, "value")
        state["index"] = int(index)
        update()

    class_choice.observe(on_class, "value")
    position.observe(on_position, "value")
    random_button.on_click(on_random)
    method.observe(on_method, "value")
    value.observe(update, "value")
    for widget in (target, network, overlay, scale):
        widget.observe(update, "value")
    update()
    controls = widgets.VBox(
        [
            widgets.HBox([class_choice, position, random_button]),
            widgets.HBox([method, value, target]),
            widgets.HBox([network, scale, overlay]),
            status,
        ]
    )
    box = widgets.VBox([controls, output])
    box.state = state  # which image is shown, the last result, and the last error (None if it worked)
    box.controls = {  # the widgets by name, for code that drives or extends the app
        "class": class_choice,
        "image": position,
        "random": random_button,
        "method": method,
        "parameter": value,
        "target": target,
        "network": network,
        "overlay": overlay,
        "scale": scale,
        "status": status,
        "heatmap": output,
    }
    box.show_image = show_image
    return box


def _show_parameter(slider, method: methods.Method) -> None:
    """Set the parameter slider to `method`'s values and default; disable it if the method has none."""
    slider.disabled = method.parameter is None
    if method.parameter is not None:
        slider.options, slider.value = method.values, method.default
        slider.description = methods.SYMBOLS[method.parameter] + (" (β = α−1)" if method.parameter == "alpha" else "")


def neighbour_correlation(relevance: np.ndarray) -> float:
    """How smooth a map (H, W, C) is: the correlation of each pixel's relevance (summed over channels)
    with its right and lower neighbours'. Near 0 for speckle, near 1 for maps that vary slowly."""
    summed = plotting.relevance_map(relevance)
    here = np.concatenate([summed[:, :-1].ravel(), summed[:-1, :].ravel()])
    neighbour = np.concatenate([summed[:, 1:].ravel(), summed[1:, :].ravel()])
    return float(np.corrcoef(here, neighbour)[0, 1])
