"""How much do the notebooks' numbers move between training runs? Recomputes them on several models.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/across_runs.py [MODEL.h5 ...] [--committed models/mini_vgg.h5]
        [--train-poisoned SEED ...] [--poisoned POISONED.h5 ...] [--committed-poisoned models/mini_vgg_poisoned.h5]
        [--record benchmarks/results/across_runs.json]

For each clean model (e.g. the three seeds of `training_recipes.py --recipes fast --seeds 42 43 44 --save`):
its test accuracy; notebook 03's median share of the explained logit that reaches the pixels under LRP-ε
(ε = 0.01, 0.1, 1) on the first 32 test images; and the tables of notebooks 04, 05 and 06 whose numbers the
notebooks' prose turns into words (a ranking, a sign, "above random"), each under the notebook's own table
name, rows and columns, so that the tests check a claim the same way on the committed outputs and on every
model here (tests/test_claims_04.py, 05, 06). For each poisoned model (notebook 06's, or one that
--train-poisoned trains from another seed): notebook 06's tables of the poisoned model, SpRAy's included.

The computations are the notebooks' own: the same package functions, and the few lines a notebook defines in
a cell repeated here. The samples are the notebooks' own except: notebook 05 runs on `IMAGES_05` test images
(the notebook: 256), so its paired differences in standard errors are smaller by about √(256/64) = 2;
notebook 06's relevance on the patch is the median over `EXPLAINED_06` stamped non-horse images (the
notebook: 500). On the 2-core host of 2026-12-07 (62 s per training epoch) a clean model took about 85 s, a
poisoned one about a minute besides its training. With --committed the committed model is measured too and
recorded apart from the seeds, and --committed-poisoned the committed poisoned model; on the notebooks' own
samples their tables equal the committed ones (tests/test_records.py checks it).
"""

import argparse
import datetime
import json
from pathlib import Path

import machine  # benchmarks/machine.py
import numpy as np

from lrp_helpers import convert, setup_notebook

EPSILONS = (0.01, 0.1, 1.0)
SAMPLE = 32  # notebook 03's and notebook 04's sample
CONCENTRATION_EXAMPLES = [0, 1, 2, 3, 7, 8]  # notebook 04's six example classes
IMAGES_05 = 64  # notebook 05: 256 images; 64 keep a model's measurement under two minutes on a 2-core host
REGION, STEPS = 4, 32  # notebook 05's region perturbation
EXPLAINED_06 = 100  # notebook 06: 500 stamped non-horse images
HORSES_06 = 2_000  # notebook 06's horse training images for SpRAy
POISONED_EPOCHS = 10  # notebook 06's poisoned model

ZPLUS, ALPHA2BETA1 = "z⁺ (= α1β0 here)", "α2β1"
DEPTH, CONV_AB = "composite (zᴮ | γ | ε | 0)", "αβ-conv composite (z⁺ | ε)"


def measure(path: Path, cifar) -> dict:
    import tensorflow as tf

    from lrp_helpers import canonize, models
    from lrp_helpers import reference as ref

    tf.keras.backend.clear_session()  # each model in a fresh graph: graph-mode calls slow down as it grows
    model = models.load_model(path)
    canonized = canonize.canonize(model)
    network = convert.from_keras(model)
    predictions = model.predict(cifar.x_test, batch_size=500, verbose=0).argmax(axis=1)
    sample = cifar.x_test[:SAMPLE]
    shares = {}
    for eps in EPSILONS:
        conservation = ref.conservation(*network.explain(sample, ref.Epsilon(eps)).by_layer())
        shares[f"{eps:g}"] = float(np.median(conservation.input_share))
    return {
        "model": path.name,
        "metadata": models.load_metadata(path),
        "test_accuracy": float(np.mean(predictions == cifar.y_test)),
        "median_pixel_share_by_epsilon": shares,
        "images": {  # the test images each notebook's tables were recomputed on
            "04_comparing_rules": SAMPLE,
            "05_evaluating_explanations": IMAGES_05,
            "06_clever_hans": EXPLAINED_06,
        },
        "tables": {
            "04_comparing_rules": comparing_rules(canonized, network, cifar, predictions),
            "05_evaluating_explanations": evaluating_explanations(model, canonized, cifar),
            "06_clever_hans": clever_hans_clean(model, canonized, cifar, predictions),
        },
    }


# --- Notebook 04 ----------------------------------------------------------------------------------


def comparing_rules(canonized, network, cifar, predictions) -> dict:
    """Notebook 04's tables batchnorm_shifts, canonization_restores, conservation, conservation_exact,
    zplus_loss_as_trained, gamma_as_trained (the reference's columns) and concentration."""
    from lrp_helpers import reference as ref

    sample = cifar.x_test[:SAMPLE]
    canonized_network = convert.from_keras(canonized)
    shifts = np.concatenate([layer.bias for layer in network.layers if isinstance(layer, ref.ChannelAffine)])
    before, after = negative_input_share(network, sample), negative_input_share(canonized_network, sample)
    restored = bias_statistics(canonized_network, sample)
    shares = conservation_shares(network, canonized_network, sample)
    return {
        "batchnorm_shifts": {
            "BatchNorm channels": {"with a negative shift t": np.mean(shifts < 0), "in all": len(shifts)}
        },
        "canonization_restores": {
            name: {"inputs < 0, as trained": before[name], "inputs < 0, canonized": after[name], **restored[name]}
            for name in after
        },
        "conservation": {
            name: {version: np.median(values) for version, values in by_version.items()}
            for name, by_version in shares.items()
        },
        "conservation_exact": {
            name: {"farthest image from 100%, canonized": np.abs(shares[name]["canonized"] - 1).max()}
            for name in (ZPLUS, ALPHA2BETA1)
        },
        "zplus_loss_as_trained": zplus_loss(network, sample),
        "gamma_as_trained": gamma_on_negative_units(network, sample),
        "concentration": concentration(canonized_network, cifar, predictions),
    }


def negative_input_share(network, images) -> dict:
    """Per linear layer: the share of its inputs that are negative."""
    return {
        layer.name: float((a < 0).mean())
        for layer, a in zip(network.layers, network.forward(images))
        if layer.has_weights
    }


def bias_statistics(network, images) -> dict:
    """Per linear layer: the share of units with a positive bias (inside the image), and the share of the
    z⁺ relevance arriving there that belongs to b⁺ when the bias counts as one more input."""
    from lrp_helpers import reference as ref

    explanation = network.explain(images, ref.ZPlus())
    statistics = {}
    for layer, a in zip(network.layers, network.forward(images)):
        if layer.has_weights:
            inside = layer.bias[1:-1, 1:-1] if layer.bias.ndim == 3 else layer.bias
            positive = layer.apply(a, np.maximum(layer.weight, 0))
            bias = np.broadcast_to(np.maximum(layer.bias, 0), positive.shape)
            relevance = explanation.layers[layer.name]
            belongs_to_bias = (relevance * bias / np.maximum(positive + bias, 1e-12)).sum() / relevance.sum()
            statistics[layer.name] = {"units with bias > 0": np.mean(inside > 0), "z⁺ relevance of b⁺": belongs_to_bias}
    return statistics


def conservation_shares(network, canonized_network, images) -> dict:
    """{rule: {"as trained": per-image share of the logit at the pixels, "canonized": ...}}, notebook 04's
    rules; the composites built for each network's own layers."""
    from lrp_helpers import reference as ref
    from lrp_helpers import rules

    composites = {
        DEPTH: ref.depth_composite,
        CONV_AB: lambda reference_network: rules.conv_alpha_beta_composite(ref.linear_layers(reference_network)),
    }
    single = {
        "LRP-0": ref.LRP0(),
        "LRP-ε (ε = 0.1)": ref.Epsilon(0.1),
        "LRP-γ (γ = 0.25)": ref.Gamma(0.25),
        ZPLUS: ref.ZPlus(),
        ALPHA2BETA1: ref.AlphaBeta(2, 1),
    }

    def share(reference_network, name):
        rule = composites[name](reference_network) if name in composites else single[name]
        explanation = reference_network.explain(images, rule)
        return explanation.input.sum(axis=(1, 2, 3)) / explanation.logits

    return {
        name: {"as trained": share(network, name), "canonized": share(canonized_network, name)}
        for name in [*single, *composites]
    }


def zplus_loss(network, images) -> dict:
    """Per BatchNorm layer: the share of the logit z⁺ loses there on the network as trained, and the share
    of that loss on units whose ReLU was off; then the loss at all other layers together."""
    from lrp_helpers import reference as ref

    names, relevances = network.explain(images, ref.ZPlus()).by_layer()
    lost = dict(zip(names[1:], ref.conservation(names, relevances).absorbed_share.mean(axis=1)))
    rows = {}
    for layer, a in zip(network.layers, network.forward(images)):
        if isinstance(layer, ref.ChannelAffine):
            arriving, leaving = relevances[names.index(layer.name)], relevances[names.index(layer.name) - 1]
            rows[layer.name] = {
                "share of the logit lost": lost[layer.name],
                "of it, where the ReLU was off": arriving[a == 0].sum() / (arriving.sum() - leaving.sum()),
            }
    rows["all other layers"] = {"share of the logit lost": sum(lost[name] for name in lost if name not in rows)}
    return rows


def gamma_on_negative_units(network, images) -> dict:
    """Notebook 04's gamma_as_trained without the two engines' difference (that takes iNNvestigate): per
    linear layer, the share of |R| under LRP-γ on units with z < 0, and of these units the share whose γ
    denominator is ≥ 0."""
    from lrp_helpers import reference as ref

    explanation = network.explain(images, ref.Gamma(0.25))
    rows = {}
    for layer, a in reversed(list(zip(network.layers, network.forward(images)))):
        if layer.has_weights:
            z = layer.forward(a)
            positive_part = layer.apply(np.maximum(a, 0), np.maximum(layer.weight, 0)) + layer.apply(
                np.minimum(a, 0), np.minimum(layer.weight, 0)
            )
            crossing = (z < 0) & (z + 0.25 * (positive_part + np.maximum(layer.bias, 0)) >= 0)
            relevance = np.abs(explanation.layers[layer.name])
            rows[layer.name] = {
                "|R| on units with z < 0": relevance[z < 0].sum() / relevance.sum(),
                "of these units, γ's denominator ≥ 0": crossing.sum() / (z < 0).sum(),
            }
    return rows


def concentration(canonized_network, cifar, predictions) -> dict:
    """Per convolution and the dense layer: the share of |relevance| (Montavon et al.'s composite) and of the
    ReLU activations held by the top 10% of channels, mean over notebook 04's six example images (the first
    correctly predicted test image of six classes)."""
    from lrp_helpers import data
    from lrp_helpers import reference as ref

    images = cifar.x_test[data.first_per_class(cifar.y_test, predictions)[CONCENTRATION_EXAMPLES]]
    explanation = canonized_network.explain(images, ref.depth_composite(canonized_network))
    outputs = dict(zip([layer.name for layer in canonized_network.layers], canonized_network.forward(images)[1:]))
    relu_after = {"block1_conv1": "block1_relu1", "block1_conv2": "block1_relu2", "block2_conv1": "block2_relu1",
                  "block2_conv2": "block2_relu2", "dense": "dense_relu"}  # fmt: skip
    return {
        name: {
            "relevance": channel_concentration(explanation.layers[name]).mean(),
            "ReLU activations": channel_concentration(outputs[relu]).mean(),
        }
        for name, relu in relu_after.items()
    }


def channel_concentration(values):
    """Per image: the share of total |values| in the top 10% of channels."""
    per_channel = np.abs(values).reshape(len(values), -1, values.shape[-1]).sum(axis=1)
    ordered = np.sort(per_channel, axis=1)[:, ::-1]
    top = max(1, values.shape[-1] // 10)
    return ordered[:, :top].sum(axis=1) / ordered.sum(axis=1)


# --- Notebook 05 ----------------------------------------------------------------------------------

CHOICES_05 = [  # notebook 05's CHOICES: (the network it runs on, the registry name, the parameter value)
    ("canonized", "lrp.epsilon", 0.1),
    ("canonized", "lrp.composite", None),
    ("canonized", "lrp.conv_alpha_beta", None),
    ("canonized", "lrp.z_plus", None),
    ("as trained", "lrp.z_plus", None),
    ("as trained", "sensitivity", None),
    ("as trained", "input_t_gradient", None),
    ("as trained", "random", None),
]
EDGES, RANDOM = "edges (no network)", "random"
DIRECTIONS = ("most relevant first", "least relevant first")
SHORT = {"most relevant first": "MoRF", "least relevant first": "LeRF"}


def label_05(network, name, value):
    """Notebook 05's labels, e.g. 'LRP-ε (ε = 0.1)', 'LRP z⁺, as trained'."""
    from lrp_helpers import methods

    method = methods.get(name)
    return method.label(value) + (", as trained" if method.is_lrp and network == "as trained" else "")


def maps_05(model, canonized, images, targets) -> dict:
    """Every method's (N, H, W) maps of notebook 05, as its `explain_all` computes them."""
    from lrp_helpers import methods

    networks = {"as trained": model, "canonized": canonized}
    return {
        label_05(network, name, value): methods.relevance_maps(networks[network], images, name, value, target=targets)
        for network, name, value in CHOICES_05
    }


def evaluating_explanations(model, canonized, cifar) -> dict:
    """Notebook 05's tables arrived, z_plus_lost, aopc, abpc, abpc_vs_random, lerf_rise, ranked_within_kind,
    noise_extra, edges, randomisation (the logits layer randomised: the first stage) and random_logit."""
    from scipy import ndimage

    from lrp_helpers import data, evaluation, models

    images = cifar.x_test[data.stratified_subset(cifar.y_test, IMAGES_05)]
    logits = models.logits(model, images)
    targets = logits.argmax(axis=1)
    maps = maps_05(model, canonized, images, targets)
    signed = [name for name, relevance in maps.items() if (relevance < 0).mean() > 0.01]
    gray = images.mean(axis=-1)
    maps[EDGES] = np.hypot(ndimage.sobel(gray, axis=1), ndimage.sobel(gray, axis=2))
    replacements = {
        "mean colour": np.broadcast_to(np.float32(data.TRAIN_MEAN), images.shape),
        "uniform noise": np.random.default_rng(0).random(images.shape).astype(np.float32),
        "ROAD imputation": evaluation.NoisyLinearImputation(noise=0.01, seed=0),
    }

    def logit_fn(x):
        return models.logits(model, x)

    curves = {
        (direction, replacement, name): evaluation.perturbation_curves(
            logit_fn,
            images,
            targets,
            evaluation.region_order(relevance, REGION, most_relevant_first=direction == DIRECTIONS[0]),
            fill,
            REGION,
            STEPS,
        )
        for replacement, fill in replacements.items()
        for direction in DIRECTIONS
        for name, relevance in maps.items()
    }
    runs = [(direction, replacement) for replacement in replacements for direction in DIRECTIONS]
    aopc = {(d, r, n): evaluation.aopc(curves[d, r, n]) for d, r in runs for n in maps}
    abpc = {(r, n): aopc[DIRECTIONS[0], r, n] - aopc[DIRECTIONS[1], r, n] for r in replacements for n in maps}
    return {
        "arrived": arrived(maps, logits[np.arange(len(images)), targets]),
        "z_plus_lost": z_plus_lost(model, images[:16], targets[:16]),
        "aopc": {n: {f"{SHORT[d]}, {r}": aopc[d, r, n].mean() for d, r in runs} for n in maps},
        **region_perturbation(abpc, curves, list(maps), signed, replacements),
        "noise_extra": noise_extra(logit_fn, images, targets, maps, replacements, abpc),
        "edges": edges(maps, images, replacements),
        **randomisation(model, images, targets, {name: maps[name] for name in maps if name != EDGES}),
    }


def arrived(maps, explained_logit) -> dict:
    """Sum of each LRP heatmap ÷ the explained logit, over the images."""
    rows = {}
    for name, relevance in maps.items():
        if name.startswith("LRP"):
            share = relevance.sum(axis=(1, 2)) / explained_logit
            rows[name] = {
                "median": np.median(share),
                "lowest": share.min(),
                "highest": share.max(),
                "images within 0.1%": np.mean(np.abs(share - 1) <= 1e-3),
            }
    return rows


def z_plus_lost(model, images, targets) -> dict:
    """The share of the logit z⁺ loses on the network as trained at the BatchNorm layers and at all others."""
    from lrp_helpers import reference as ref

    network = convert.from_keras(model)
    explanation = network.explain(images, ref.ZPlus(), targets)
    lost = ref.conservation(*explanation.by_layer()).absorbed_share.mean(axis=1)
    is_batchnorm = np.array([isinstance(layer, ref.ChannelAffine) for layer in network.layers])
    return {
        "at the BatchNorm layers": {"value": lost[is_batchnorm].sum()},
        "at all other layers": {"value": lost[~is_batchnorm].sum()},
    }


def standard_error(values):
    return values.std(ddof=1) / np.sqrt(len(values))


def region_perturbation(abpc, curves, names, signed, replacements) -> dict:
    """From the per-image ABPC {(replacement, name): ...}: its mean and standard error, the ABPC against
    random's in standard errors of the paired difference, the LeRF curves' rise and the ranking within each
    kind of map."""

    def versus_random(name, replacement):
        difference = abpc[replacement, name] - abpc[replacement, RANDOM]
        return difference.mean() / standard_error(difference)

    def rise(replacement, name):
        mean_curve = curves[DIRECTIONS[1], replacement, name].mean(axis=0)
        return (mean_curve - mean_curve[0]).max()

    def ranked_within(kind, replacement):
        members = [n for n in names if (n in signed) == (kind == "signed") and n != RANDOM]
        return sorted(members, key=lambda n: -abpc[replacement, n].mean())

    return {
        "abpc": {
            n: {
                k: v
                for r in replacements
                for k, v in ((r, abpc[r, n].mean()), (f"± ({r})", standard_error(abpc[r, n])))
            }
            for n in names
        },
        "abpc_vs_random": {n: {r: versus_random(n, r) for r in replacements} for n in names if n != RANDOM},
        "lerf_rise": {
            n: {"kind": "signed" if n in signed else "non-negative", **{r: rise(r, n) for r in replacements}}
            for n in names
        },
        "ranked_within_kind": {
            f"{kind}, {r}": {"best to worst by ABPC": " > ".join(ranked_within(kind, r))}
            for kind in ("signed", "non-negative")
            for r in replacements
        },
    }


def noise_extra(logit_fn, images, targets, maps, replacements, abpc) -> dict:
    """Per map: the rank correlation of its region relevance with the extra drop a region alone causes when
    uniform noise rather than the mean colour replaces it, and its ABPC with noise − with mean colour."""
    from lrp_helpers import evaluation

    single_drop = {}
    for replacement in ("mean colour", "uniform noise"):
        drops = []
        for region in range(evaluation.region_relevance(maps[RANDOM], REGION).shape[1]):
            alone = np.full((len(images), 1), region)
            curve = evaluation.perturbation_curves(
                logit_fn, images, targets, alone, replacements[replacement], REGION, 1
            )
            drops.append(curve[:, 0] - curve[:, 1])
        single_drop[replacement] = np.stack(drops, axis=1)
    extra = single_drop["uniform noise"] - single_drop["mean colour"]
    return {
        n: {
            "rank correlation: relevance vs the noise's extra drop": evaluation.spearman(
                evaluation.region_relevance(maps[n], REGION), extra
            ).mean(),
            "ABPC with noise − ABPC with mean colour": (abpc["uniform noise", n] - abpc["mean colour", n]).mean(),
        }
        for n in maps
        if n != RANDOM
    }


def edges(maps, images, replacements) -> dict:
    """Per map: the rank correlation of its region ranking with the edge strength, and the RMS change of the
    pixels of its most relevant half under each replacement."""
    from lrp_helpers import evaluation

    def pixel_change(name, replacement):
        order = evaluation.region_order(maps[name], REGION)
        removed = evaluation.removed_pixels(order, STEPS, REGION, images.shape[:3])
        fill = replacements[replacement]
        perturbed = fill(images, removed) if callable(fill) else np.where(removed[..., None], fill, images)
        return np.sqrt(((perturbed - images) ** 2).sum(axis=(1, 2, 3)) / (3 * removed.sum(axis=(1, 2))))

    edge_strength = evaluation.region_relevance(maps[EDGES], REGION)
    return {
        n: {
            "rank correlation with edge strength": evaluation.spearman(
                evaluation.region_relevance(maps[n], REGION), edge_strength
            ).mean(),
            **{f"pixel change, {r}": pixel_change(n, r).mean() for r in replacements},
        }
        for n in maps
    }


def randomisation(model, images, targets, original) -> dict:
    """The first stage of notebook 05's cascade (the logits layer randomised): each method's Spearman
    correlation with its original map (absolute; signed: the share of images kept or flipped), and the
    share of images whose explained logit turns negative. `original`: the maps of the trained model."""
    from lrp_helpers import canonize, evaluation, methods, models

    layer, weights = evaluation.cascading_randomisation(model, seed=0)[0]
    with models.copy_in_own_graph(model, weights) as randomised:
        after = maps_05(randomised, canonize.canonize(randomised), images, targets)
        random_logit = models.logits(randomised, images)[np.arange(len(images)), targets]
    rows = {}
    for (_, name, _), label in zip(CHOICES_05, original):
        if name == RANDOM:
            continue
        rows[label] = {
            f"absolute, + {layer}": evaluation.spearman(np.abs(original[label]), np.abs(after[label])).mean()
        }
        if not methods.get(name).absolute:
            signed = evaluation.spearman(original[label], after[label])
            rows[label] |= {
                "signed, kept (> 0.9)": np.mean(signed > 0.9),
                "signed, flipped (< −0.9)": np.mean(signed < -0.9),
            }
    return {"randomisation": rows, "random_logit": {f"+ {layer}": {"value": np.mean(random_logit < 0)}}}


# --- Notebook 06 ----------------------------------------------------------------------------------

PATCH_METHODS_06 = [  # notebook 06's CHOICES: registry names and values
    ("lrp.epsilon", 0.1),
    ("lrp.epsilon", 1.0),
    ("lrp.composite", None),
    ("lrp.z_plus", None),
    ("sensitivity", None),
    ("input_t_gradient", None),
]


def clever_hans_clean(model, canonized, cifar, predictions) -> dict:
    """Notebook 06's tables behaviour and patch_mass, the clean model's row and column only; `predictions`:
    the model's classes for the clean test images."""
    return patch_tables(model, canonized, cifar, predictions, "clean model")


def patch_tables(model, canonized, cifar, predictions, column) -> dict:
    """Notebook 06's behaviour (one row) and patch_mass (one column), named `column`."""
    from lrp_helpers import clever_hans, methods

    horse = cifar.class_names.index("horse")
    stamped_test = clever_hans.stamp(cifar.x_test)
    stamped_predictions = model.predict(stamped_test, batch_size=500, verbose=0).argmax(axis=1)
    others = cifar.y_test != horse
    explained = stamped_test[np.flatnonzero(others)[:EXPLAINED_06]]
    mask = clever_hans.patch_mask()

    def median_on_patch(name, value):
        maps = methods.relevance_maps(canonized, explained, name, value, target=horse)
        return np.median(clever_hans.relevance_mass(maps, mask))

    return {
        "behaviour": {
            column: {
                "test accuracy": np.mean(predictions == cifar.y_test),
                "stamped test accuracy": np.mean(stamped_predictions == cifar.y_test),
                "non-horses called horse": np.mean(predictions[others] == horse),
                "stamped non-horses called horse": np.mean(stamped_predictions[others] == horse),
            }
        },
        "patch_mass": {
            methods.get(name).label(value).replace("|", "\\|"): {column: median_on_patch(name, value)}
            for name, value in PATCH_METHODS_06
        },
    }


def poisoned_data(cifar):
    """Notebook 06's poisoned training set: the patch on 80% of the horse training images."""
    from lrp_helpers import clever_hans

    return clever_hans.poison(cifar, cifar.class_names.index("horse"), share=0.8, seed=0)


def train_poisoned(seed: int, cifar) -> Path:
    """Notebook 06's poisoned model (the original recipe, POISONED_EPOCHS epochs on the poisoned training set),
    its weights initialised from `seed`; saved to models/mini_vgg_poisoned_<seed>_benchmark.h5."""
    import tensorflow as tf

    from lrp_helpers import models

    model = models.fresh_mini_vgg(seed, models.ORIGINAL_RECIPE)
    history = models.train(model, poisoned_data(cifar).data, models.ORIGINAL_RECIPE, POISONED_EPOCHS, progress=False)
    return models.save_model(
        model,
        f"models/{models.POISONED}_{seed}_benchmark.h5",
        recipe=models.ORIGINAL_RECIPE,
        epochs=POISONED_EPOCHS,
        seed=seed,
        poisoned_class="horse",
        stamped_share=0.8,
        test_accuracy=models.accuracy(model, cifar.x_test, cifar.y_test),
        training_seconds=round(history.seconds),
        trained_on=datetime.date.today().isoformat(),
        tensorflow=tf.__version__,
    )


def measure_poisoned(path: Path, cifar) -> dict:
    """Notebook 06's tables of the poisoned model: behaviour and patch_mass (its row and column), and SpRAy's
    spectrum, spray_rules and spray_clusters on notebook 06's 2,000 horse training images."""
    import tensorflow as tf
    from sklearn.metrics import adjusted_rand_score

    from lrp_helpers import canonize, clever_hans, methods, models

    tf.keras.backend.clear_session()
    model = models.load_model(path)
    metadata = models.load_metadata(path)
    canonized = canonize.canonize(model)
    predictions = model.predict(cifar.x_test, batch_size=500, verbose=0).argmax(axis=1)
    tables = patch_tables(model, canonized, cifar, predictions, "poisoned model")
    tables["behaviour"]["poisoned model"]["trained"] = (
        f"{metadata['recipe']['name']} recipe, {metadata['epochs']} epochs"
    )
    horse, poisoned = cifar.class_names.index("horse"), poisoned_data(cifar)
    horses = np.flatnonzero(cifar.y_train == horse)[:HORSES_06]
    horse_maps = methods.relevance_maps(canonized, poisoned.data.x_train[horses], "lrp.epsilon", 1.0, target=horse)
    result = clever_hans.spray(horse_maps, size=8, neighbours=10, max_clusters=6)
    truth = poisoned.stamped[horses]
    by_gap = clever_hans.spectral_clusters(result.adjacency, clever_hans.largest_gap(result.eigenvalues, 6))
    groupings = {"zero eigenvalues (components)": result.labels, "largest eigengap": by_gap}
    members = [result.labels == k for k in range(result.clusters)]
    on_patch = clever_hans.relevance_mass(
        np.stack([horse_maps[m].mean(axis=0) for m in members]), clever_hans.patch_mask()
    )
    tables |= {
        "spectrum": {
            "eigenvalue": {str(k): value for k, value in enumerate(result.eigenvalues, start=1)},
            "gap to the next": {str(k): gap for k, gap in enumerate(np.diff(result.eigenvalues), start=1)},
        },
        "spray_rules": {
            rule: {
                "clusters": len(np.unique(labels)),
                "adjusted Rand index": adjusted_rand_score(truth, labels),
                "purity": clever_hans.purity(truth, labels),
            }
            for rule, labels in groupings.items()
        },
        "spray_clusters": {
            f"cluster {k}": {
                "images": int(m.sum()),
                "stamped": truth[m].mean(),
                "mean map's share on the patch": on_patch[k],
            }
            for k, m in enumerate(members)
        },
    }
    return {
        "model": path.name,
        "metadata": metadata,
        "images": {"06_clever_hans": EXPLAINED_06, "SpRAy horses": HORSES_06},
        "tables": {"06_clever_hans": tables},
    }


# --- The record ------------------------------------------------------------------------------------


def plain(value):
    """JSON-ready: numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if hasattr(value, "item") and np.ndim(value) == 0:
        return value.item()
    return value


def summary(row: dict) -> str:
    """One line per model: accuracy, notebook 03's shares, and a few of the figures the prose ranks."""
    t04, t05 = row["tables"]["04_comparing_rules"], row["tables"]["05_evaluating_explanations"]
    t06 = row["tables"]["06_clever_hans"]
    shares = "".join(f"{share:>8.1%}" for share in row["median_pixel_share_by_epsilon"].values())
    road = t05["ranked_within_kind"]["signed, ROAD imputation"]["best to worst by ABPC"].split(" > ")[0]
    return (
        f"{row['model']:<28}{row['test_accuracy']:>8.2%}{shares}"
        f"{t04['conservation'][ZPLUS]['as trained']:>9.1%}{t04['conservation'][ALPHA2BETA1]['as trained']:>9.0%}"
        f"{t05['abpc_vs_random']['LRP composite']['uniform noise']:>9.1f}"
        f"{t05['abpc_vs_random']['input × gradient']['ROAD imputation']:>9.1f}"
        f"{max(v['clean model'] for v in t06['patch_mass'].values()):>9.1%}   {road}"
    )


HEADER = (
    f"{'model':<28}{'acc':>8}{'ε=0.01':>8}{'ε=0.1':>8}{'ε=1':>8}{'z⁺ 04':>9}{'α2β1 04':>9}"
    f"{'comp/nz':>9}{'i×g/ROAD':>9}{'patch06':>9}   signed ROAD leader"
)


def poisoned_summary(row: dict) -> str:
    """One line per poisoned model: its behaviour, the patch's ranking and what SpRAy finds."""
    tables = row["tables"]["06_clever_hans"]
    behaviour = tables["behaviour"]["poisoned model"]
    ranking = sorted(tables["patch_mass"], key=lambda name: -tables["patch_mass"][name]["poisoned model"])
    components, by_gap = (
        tables["spray_rules"]["zero eigenvalues (components)"],
        tables["spray_rules"]["largest eigengap"],
    )
    return (
        f"{row['model']:<36}{behaviour['test accuracy']:>8.2%}{behaviour['stamped non-horses called horse']:>9.1%}"
        f"{components['clusters']:>4}{components['adjusted Rand index']:>6.2f}{by_gap['clusters']:>4}"
        f"   most on the patch: {', '.join(ranking[:2])}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="clean models of the recorded seeds")
    parser.add_argument("--committed", type=Path, help="also measure this model (the committed one), recorded apart")
    parser.add_argument(
        "--train-poisoned",
        nargs="+",
        type=int,
        default=[],
        metavar="SEED",
        help=f"first train notebook 06's poisoned model with each seed ({POISONED_EPOCHS} epochs), to measure it",
    )
    parser.add_argument("--poisoned", nargs="+", type=Path, default=[], help="poisoned models (notebook 06) to measure")
    parser.add_argument("--committed-poisoned", type=Path, help="also measure notebook 06's committed poisoned model")
    parser.add_argument("--record", metavar="FILE", help="write the figures to this JSON file, replacing what it "
                        "holds of the kinds measured now (seeds, committed model, poisoned models)")  # fmt: skip
    args = parser.parse_args()
    setup_notebook()
    from lrp_helpers import data

    poisoned = args.train_poisoned or args.poisoned or args.committed_poisoned
    cifar = data.load_cifar10(train_size=None if poisoned else 10)
    print(f"machine: {machine.describe()}")
    measured = {}
    if args.models or args.committed:
        print(HEADER)
        measured = measure_clean(args.models, args.committed, cifar)
    poisoned_paths = [train_poisoned(seed, cifar) for seed in args.train_poisoned] + args.poisoned
    if poisoned_paths:
        measured["poisoned"] = [plain(measure_poisoned(path, cifar)) for path in poisoned_paths]
    if args.committed_poisoned:
        measured["committed_poisoned"] = plain(measure_poisoned(args.committed_poisoned, cifar))
    for row in [*measured.get("poisoned", []), *([measured["committed_poisoned"]] if args.committed_poisoned else [])]:
        print(poisoned_summary(row))
    if args.record:
        result = json.loads(Path(args.record).read_text()) if Path(args.record).exists() else {}
        result |= {"date": datetime.date.today().isoformat(), "machine": machine.record(), **measured}
        Path(args.record).write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"recorded in {args.record}")


def measure_clean(paths, committed, cifar) -> dict:
    """{"models": a row per seed model, "committed": the committed model's row}, printed as they come."""
    measured = {}
    for path in [*paths, *([committed] if committed else [])]:
        row = plain(measure(path, cifar))
        print(summary(row), flush=True)
        if path == committed:
            measured["committed"] = row
        else:
            measured.setdefault("models", []).append(row)
    for eps in EPSILONS:
        values = [row["median_pixel_share_by_epsilon"][f"{eps:g}"] for row in measured.get("models", [])]
        if values:
            print(f"ε = {eps:g}: median share from {min(values):.1%} to {max(values):.1%} over {len(values)} models")
    return measured


if __name__ == "__main__":
    main()
