"""Explaining a trained Keras model with iNNvestigate, correctly, in one call.

    analyzer = Analyzer(model, rules.Epsilon(0.1))
    relevance = analyzer.analyze(images)                  # explains the predicted class
    relevance = analyzer.analyze(images, target=3)        # ... or class 3, or one class per image
    per_layer = analyzer.relevance_per_layer(images)      # relevance at every layer's output

What `Analyzer` takes care of, and why:

* **The softmax is removed.** LRP explains the logit; explaining the softmax output mixes in all
  other classes.
* **Its own TensorFlow graph and session.** iNNvestigate 2.1.2 builds a TF1-style graph. Each
  analyzer built into the same graph makes the next build slower (1 s -> 20 s); each `Analyzer`
  rebuilds the model from its config and weights in a fresh graph, so builds stay at 1-6 s and
  your own model (in the default graph) is never touched. Graph mode must be on, which
  `setup_notebook()` does.
* **Learning phase 0 inside that graph.** Gradient-based analyzers otherwise fail with "You must
  feed a value for placeholder tensor" (BatchNorm after a Dense layer). Setting it only in the
  private graph keeps BatchNorm trainable in the graph you train in.
* **BatchNorm handled correctly.** iNNvestigate replaces each BatchNormalization layer by a
  per-channel affine surrogate ``y = k*x + b`` and applies the analyzer's rule to it, but 2.1.2
  computes ``k = gamma / sqrt(var**2 + eps)`` and ``b = beta - mean / sqrt(var**2 + eps)``. The
  correct values are ``k = gamma / sqrt(var + eps)`` and ``b = beta - mean * gamma / sqrt(var + eps)``.
  With freshly initialised statistics (mean 0, var 1) both agree, so the bug only shows on a
  trained model, where it makes the heatmaps wrong. Correcting the two formulas keeps every
  analyzer's own semantics for the network as trained. `batchnorm="stock"` keeps the library's
  surrogate, for showing the bug.
* **Rules defined once.** `Analyzer(model, rule)` takes a rule spec or composite (`lrp_helpers.rules`;
  the NumPy reference's classes are specs too) and has iNNvestigate compute that definition, through
  this module's own table from spec type to iNNvestigate rule (`innvestigate_rule`).
  To give z⁺, αβ and γ the non-negative inputs they are derived for, explain `canonize.canonize(model)`,
  on which no BatchNorm is left (`lrp_helpers.canonize`); its merged biases stay positive for most units.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import tensorflow as tf

from . import compat, keras_layers, rules
from .graphs import OwnGraph
from .targets import resolve as resolve_targets

INPUT_RANGE = (-0.5, 1.5)  # images are scaled to [0, 1]; far outside this means a wrong scale


# The registry's gradient methods (lrp_helpers.methods), by the names iNNvestigate gives them too.
GRADIENTS = ("gradient", "input_t_gradient")


def native_equivalent(method: str, value=None) -> tuple[str, dict] | None:
    """iNNvestigate's own analyzer computing the registry method `method` (with parameter `value`) by the
    same definition on a network as trained, as (name, parameters); None where it has none."""
    if method == "lrp.alpha_beta":
        rule = rules.AlphaBeta.with_alpha(value)
        return (f"lrp.alpha_{rule.alpha:g}_beta_{rule.beta:g}_IB", {}) if value in (1, 2) else None
    return {
        "lrp.0": ("lrp.z", {}),
        "lrp.epsilon": ("lrp.epsilon", {"epsilon": value}),
        "lrp.z_plus": ("lrp.z_plus", {}),
        "lrp.w_square": ("lrp.w_square", {}),
        "lrp.flat": ("lrp.flat", {}),
    }.get(method)


def methods() -> list[str]:
    """Every method name iNNvestigate knows (`lrp.epsilon`, `gradient`, `deep_taylor`, ...)."""
    import innvestigate

    return sorted(innvestigate.analyzer.analyzers)


# ---------------------------------------------------------------------------------------------
# The BatchNorm surrogate, corrected.
# ---------------------------------------------------------------------------------------------


def _affine_layer(kernel, bias):
    """A Keras layer computing inputs * kernel + bias, in the form iNNvestigate's rules copy."""

    class ChannelAffine(tf.keras.layers.Layer):
        def __init__(self, use_bias=True, **kwargs):
            self.use_bias = use_bias
            super().__init__(**kwargs)

        def get_config(self):
            return {**super().get_config(), "use_bias": self.use_bias}

        def build(self, input_shape):
            self.kernel = self.add_weight(
                name="kernel", shape=kernel.shape, initializer=lambda *_, **__: kernel, trainable=False
            )
            if self.use_bias:
                self.bias = self.add_weight(
                    name="bias", shape=bias.shape, initializer=lambda *_, **__: bias, trainable=False
                )
            super().build(input_shape)

        def call(self, inputs, *args, **kwargs):
            return inputs * self.kernel + self.bias if self.use_bias else inputs * self.kernel

    return ChannelAffine()


def corrected_fused_batchnorm_mapping(mapping, fuse_mode: str = "one_linear"):
    """Drop-in for `innvestigate.backend.graph.apply_mapping_to_fused_bn_layer` with correct k, b.

    'one_linear' applies the rule once to y = k*x + b; 'two_linear' applies it to the
    normalisation (x - mean) / sqrt(var + eps) and then to the scaling gamma*x + beta.
    """
    if fuse_mode not in ("one_linear", "two_linear"):
        raise ValueError("fuse_mode can only be 'one_linear' or 'two_linear'")

    def meta_mapping(layer, reverse_state):
        inputs = layer.get_input_at(0)
        if fuse_mode == "one_linear":
            surrogate = _affine_layer(*keras_layers.batchnorm_as_affine(layer))
            surrogate(inputs)
            return mapping(surrogate, reverse_state).apply
        gamma, beta, mean, variance = keras_layers.batchnorm_weights(layer)
        inverse_std = 1 / tf.keras.backend.sqrt(variance + layer.epsilon)
        normalise = _affine_layer(inverse_std, -mean * inverse_std)
        rescale = _affine_layer(gamma, beta)
        normalise(inputs)
        rescale(inputs)
        normalise_mapping = mapping(normalise, reverse_state).apply
        rescale_mapping = mapping(rescale, reverse_state).apply

        def two_step_mapping(Xs, Ys, reversed_Ys, state):
            import innvestigate.backend as ibackend

            normalised = ibackend.apply(normalise, Xs)
            reversed_normalised = rescale_mapping(normalised, Ys, reversed_Ys, state)
            return normalise_mapping(Xs, normalised, reversed_normalised, state)

        return two_step_mapping

    return meta_mapping


def _batchnorm_surrogate(kind: str):
    if kind == "stock":
        return contextlib.nullcontext()
    if kind != "corrected":
        raise ValueError(f"batchnorm must be 'corrected' or 'stock', got {kind!r}")
    return compat.fused_batchnorm_mapping(corrected_fused_batchnorm_mapping)


# ---------------------------------------------------------------------------------------------
# The analyzer.
# ---------------------------------------------------------------------------------------------


def check_images(images, input_shape, input_range=INPUT_RANGE) -> np.ndarray:
    """Validate a batch of images (or other inputs) and return it as float32.

    input_range: (low, high) outside which values are refused as wrongly scaled; None skips it.
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a NumPy array, got {type(images).__name__}")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(
            f"images must be floating point in [0, 1], got {images.dtype}; convert with images.astype('float32') / 255"
        )
    finite = np.isfinite(images)
    if not finite.all():
        rows = np.flatnonzero(~finite.reshape(len(images), -1).all(axis=1)).tolist() if images.ndim > 1 else []
        raise ValueError(
            f"images {rows[:5]}{' and more' if len(rows) > 5 else ''} hold NaN or infinite values "
            f"({(~finite).sum()} in all), whose relevance would be NaN; check how they were loaded and scaled"
        )
    if images.ndim == len(input_shape):
        raise ValueError(f"got one image of shape {images.shape}; pass a batch, e.g. images[None]")
    if images.shape[1:] != tuple(input_shape):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, input_shape))}), got {images.shape}")
    low, high = float(images.min()), float(images.max())
    if input_range is not None and (low < input_range[0] or high > input_range[1]):
        raise ValueError(
            f"image values span [{low:.3g}, {high:.3g}], far outside the training range [0, 1]; scale pixels with / 255"
        )
    return images.astype(np.float32, copy=False)


@dataclass
class LayerRelevance:
    """Relevance at the output of every layer of the analysed model (softmax removed).

    names:     layer names in forward order, starting with the input layer
    relevance: the relevance arrays, same order; relevance[0] is the input relevance
    targets:   the class explained for each input
    """

    names: list[str]
    relevance: list[np.ndarray]
    targets: np.ndarray


# ---------------------------------------------------------------------------------------------
# The reference's rules, as iNNvestigate rules: one definition, two engines.
# ---------------------------------------------------------------------------------------------


def _gamma_rule_class():
    """LRP-γ for iNNvestigate 2.1.2, which has none, defined as the spec says (`rules.Gamma`):
    z_k = Σ_j a_j w_jk + b_k + γ (Σ_j (a_j w_jk)⁺ + b_k⁺), with (a w)⁺ = a⁺w⁺ + a⁻w⁻, and
    R_j = (a_j w_jk + γ (a_j w_jk)⁺) R_k / z_k. For inputs ≥ 0 (the canonized network) this is
    Montavon et al.'s (2019) w + γw⁺."""
    import innvestigate.backend as ibackend
    import innvestigate.backend.graph as igraph
    from tensorflow.keras import backend as kbackend
    from tensorflow.keras import layers as klayers

    def part(keep):
        return klayers.Lambda(lambda x: x * kbackend.cast(keep(x), kbackend.floatx()))

    class GammaRule(igraph.ReverseMappingBase):
        def __init__(self, layer, _state, gamma=0.25):
            self._gamma = gamma
            weights = list(layer.weights)
            biases = [weights.pop()] if getattr(layer, "use_bias", False) else []
            favoured_bias = [b + gamma * b * ibackend.cast_to_floatx(b > 0) for b in biases]
            self._plain = igraph.copy_layer_wo_activation(
                layer, weights=weights + favoured_bias, name_template="gamma_%s"
            )
            self._positive, self._negative = (
                igraph.copy_layer_wo_activation(
                    layer,
                    keep_bias=False,
                    name_template=f"gamma_{sign}_%s",
                    weights=[w * ibackend.cast_to_floatx(keep(w)) for w in weights],
                )
                for sign, keep in (("positive", lambda w: w > 0), ("negative", lambda w: w < 0))
            )

        def apply(self, Xs, _Ys, Rs, _reverse_state):
            times_gamma = klayers.Lambda(lambda x: x * self._gamma)
            Xs_pos = ibackend.apply(part(lambda x: kbackend.greater(x, 0)), Xs)
            Xs_neg = ibackend.apply(part(lambda x: kbackend.less(x, 0)), Xs)
            Z0 = ibackend.apply(self._plain, Xs)
            Zp = ibackend.apply(self._positive, Xs_pos)
            Zn = ibackend.apply(self._negative, Xs_neg)
            Zs = [klayers.Add()([z0, times_gamma(klayers.Add()([zp, zn]))]) for z0, zp, zn in zip(Z0, Zp, Zn)]
            tmp = [ibackend.safe_divide(r, z) for r, z in zip(Rs, Zs)]
            relevance = []
            for X, Xp, Xn, z0, zp, zn, t in zip(Xs, Xs_pos, Xs_neg, Z0, Zp, Zn, tmp):
                plain = klayers.Multiply()([X, ibackend.gradients([X], [z0], [t])[0]])
                favoured = klayers.Add()(
                    [
                        klayers.Multiply()([Xp, ibackend.gradients([Xp], [zp], [t])[0]]),
                        klayers.Multiply()([Xn, ibackend.gradients([Xn], [zn], [t])[0]]),
                    ]
                )
                relevance.append(klayers.Add()([plain, times_gamma(favoured)]))
            return relevance

    return GammaRule


def _innvestigate_rules() -> dict:
    """Spec type -> (spec -> iNNvestigate rule factory, called with (layer, state)): this engine's table."""
    from innvestigate.analyzer.relevance_based import relevance_rule as rrule

    def epsilon(rule):
        if rule.epsilon == 0:
            return partial(rrule.ZRule, bias=rule.bias)
        return partial(rrule.EpsilonRule, epsilon=rule.epsilon, bias=rule.bias)

    return {
        rules.Epsilon: epsilon,
        # z⁺ included; the bias is ignored, as the spec says
        rules.AlphaBeta: lambda rule: partial(rrule.AlphaBetaRule, alpha=rule.alpha, beta=rule.beta, bias=False),
        rules.Gamma: lambda rule: partial(_gamma_rule_class(), gamma=rule.gamma),
        rules.ZBox: lambda rule: partial(rrule.BoundedRule, low=rule.low, high=rule.high),
        rules.WSquare: lambda rule: rrule.WSquareRule,
        rules.Flat: lambda rule: rrule.FlatRule,
    }


def innvestigate_rule(rule: rules.Rule):
    """The iNNvestigate rule (a factory called with (layer, state)) computing `rule` exactly."""
    return _innvestigate_rules()[rules.spec_type(rule)](rule)


def innvestigate_rules(rule: rules.Rule | rules.Composite) -> dict:
    """Parameters of iNNvestigate's "lrp" analyzer that apply a rule spec or composite: per-layer rules by
    name, then by kind, the default for every other kernel layer, and one BatchNorm rule."""
    composite = rules.as_composite(rule)
    conditions = [
        (lambda layer, name=name: layer.name == name, innvestigate_rule(layer_rule))
        for name, layer_rule in composite.rules.items()
    ]
    conditions += [
        (lambda layer, kind=kind: keras_layers.kind(layer) == kind, innvestigate_rule(layer_rule))
        for kind, layer_rule in composite.by_kind.items()
        if kind != rules.BATCHNORM
    ]
    conditions.append((lambda layer: True, innvestigate_rule(composite.default)))
    batchnorm = composite.by_kind.get(rules.BATCHNORM, composite.default)
    return {"rule": conditions, "bn_layer_rule": innvestigate_rule(batchnorm)}


class Analyzer(OwnGraph):
    """An iNNvestigate analyzer for a trained Keras model, built in its own graph (see module doc).

    model:      a trained Keras model (softmax output is fine; it is removed)
    method:     a rule spec or composite (`rules.Epsilon(0.1)`, `rules.depth_composite(...)`; the reference's
                classes are specs too), computed by iNNvestigate with the same definition (`innvestigate_rules`),
                or "gradient" / "input_t_gradient" (the registry's names, `lrp_helpers.methods`)
    native:     `method` is instead the name of one of iNNvestigate's own analyzers, with its own definition
                (e.g. "lrp.alpha_2_beta_1", which adds the whole bias to both sums): for showing what the
                library does
    batchnorm:  "corrected" (default) or "stock" (iNNvestigate 2.1.2's wrong surrogate)
    keep_layers: also compute relevance at every layer (needed by `relevance_per_layer`)
    input_range: inputs outside (low, high) are refused; the default suits images in [0, 1],
                None switches the check off (e.g. for standardised tabular data)
    params:     the method's parameters, e.g. epsilon=0.1
    """

    def __init__(
        self,
        model,
        method,
        *,
        batchnorm: str = "corrected",
        keep_layers: bool = False,
        input_range=INPUT_RANGE,
        native: bool = False,
        **params,
    ):
        import innvestigate

        self.rule = method if isinstance(method, (rules.Rule, rules.Composite)) else None
        if self.rule is not None:
            params = {**innvestigate_rules(self.rule), **params}
            method = "lrp"
        elif not native and method not in GRADIENTS:
            raise ValueError(
                f"Analyzer takes a rule spec (e.g. rules.Epsilon(0.1), lrp_helpers.rules) or one of {GRADIENTS}, "
                f"not {method!r}; for iNNvestigate's own analyzer of that name pass native=True"
            )
        if method not in innvestigate.analyzer.analyzers:
            close = [name for name in methods() if method.split(".")[-1] in name]
            raise ValueError(f"unknown method {method!r}; did you mean one of {close or methods()}?")
        compat.check_stack()
        keras_layers.check_model(model)
        backward_pass = issubclass(
            innvestigate.analyzer.analyzers[method], innvestigate.analyzer.reverse_base.ReverseAnalyzerBase
        )
        if keep_layers and not backward_pass:
            raise ValueError(f"relevance per layer needs a backward-pass method (LRP, gradient, ...), not {method!r}")
        self.method, self.params, self.batchnorm = method, dict(params), batchnorm
        self.input_range = input_range
        if method == "lrp" and "rule" in params and "bn_layer_rule" not in params:
            self.params.setdefault("bn_layer_rule", params["rule"])  # the unfused BN path crashes
        self.input_shape = tuple(model.input_shape[1:])
        self.num_classes = int(model.output_shape[-1])
        super().__init__()
        start = time.perf_counter()
        rebuilt = self.rebuild(model)
        with self.inside():
            self.model = innvestigate.model_wo_softmax(rebuilt)
            # Keeping the weight tensors the rules compute (w⁺, w², ...) symbolic makes builds 3-5x faster:
            # evaluating each into a constant is most of the build time.
            with _batchnorm_surrogate(batchnorm), compat.symbolic_layer_constants():
                extra = {"reverse_keep_tensors": True} if keep_layers else {}
                self._analyzer = innvestigate.create_analyzer(
                    method, self.model, neuron_selection_mode="index", **extra, **self.params
                )
                self._analyzer.create_analyzer_model()
        self.build_seconds = time.perf_counter() - start
        self.keep_layers = keep_layers

    def logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The analysed (softmax-free) model's output; for a plain forward pass use `models.logits`."""
        images = check_images(images, self.input_shape, self.input_range)
        with self.inside():
            return self.model.predict(images, batch_size=batch_size, verbose=0)

    def targets(self, images: np.ndarray, target="predicted") -> np.ndarray:
        """One class index per image for `target` (the vocabulary of `lrp_helpers.targets`; "all" is
        for `analyze`). Only "predicted" needs the logits: this engine's own."""
        wants_logits = isinstance(target, str) and target == "predicted"
        logits = self.logits(images) if wants_logits else np.zeros((len(images), self.num_classes))
        return resolve_targets(target, logits)

    def analyze(self, images: np.ndarray, target="predicted", batch_size: int = 64) -> np.ndarray:
        """Relevance maps, shaped like the images.

        target: "predicted" (default), a class index for all images, one index per image, or
        "all" for every class (result shape (N, classes, *image_shape)).
        """
        images = check_images(images, self.input_shape, self.input_range)
        if isinstance(target, str) and target == "all":
            return np.stack([self.analyze(images, c, batch_size) for c in range(self.num_classes)], axis=1)
        targets = self.targets(images, target)
        out = []
        with self.inside():
            for start in range(0, len(images), batch_size):
                batch, batch_targets = images[start : start + batch_size], targets[start : start + batch_size]
                if self.keep_layers:
                    out.append(self._run(batch, batch_targets)[0])
                else:
                    out.append(self._analyzer.analyze(batch, neuron_selection=batch_targets))
        return np.concatenate(out)

    def _run(self, images, targets) -> list[np.ndarray]:
        """All outputs of iNNvestigate's analyzer model: the analysis, then the kept tensors.
        (iNNvestigate's own `analyze` fails to sort the kept tensors, so we call the model.)"""
        with self.inside():
            return compat.run_analyzer_model(self._analyzer, images, targets)

    def relevance_per_layer(self, images: np.ndarray, target="predicted") -> LayerRelevance:
        """Relevance at the output of every layer (one batch; build with keep_layers=True)."""
        if not self.keep_layers:
            raise RuntimeError("build the Analyzer with keep_layers=True to get relevance per layer")
        images = check_images(images, self.input_shape, self.input_range)
        targets = self.targets(images, target)
        kept = compat.kept_tensors(self._analyzer, self._run(images, targets))[::-1]
        layers = self.model.layers
        if len(kept) != len(layers) + 1:
            raise RuntimeError(f"expected {len(layers) + 1} relevance tensors, iNNvestigate kept {len(kept)}")
        for layer, relevance in zip(layers, kept):
            expected = tuple(layer.output_shape[0] if isinstance(layer.output_shape, list) else layer.output_shape)
            if relevance.shape[1:] != expected[1:]:
                raise RuntimeError(f"relevance for {layer.name} has shape {relevance.shape}, expected {expected}")
        return LayerRelevance([layer.name for layer in layers], list(kept[: len(layers)]), targets)

    def __repr__(self):
        if self.rule is not None:
            return f"Analyzer({self.rule!r}; built in {self.build_seconds:.1f} s)"
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"Analyzer({self.method}{', ' + params if params else ''}; built in {self.build_seconds:.1f} s)"


def analyze(model, images, method, target="predicted", **params) -> np.ndarray:
    """One-shot: build an `Analyzer(model, method, **params)` and return the relevance maps for `images`."""
    analyzer = Analyzer(model, method, **params)
    try:
        return analyzer.analyze(images, target)
    finally:
        analyzer.close()
