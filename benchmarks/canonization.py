"""LRP rules before and after canonization (every BatchNorm merged into the next linear layer).

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/canonization.py [--images 256] [--randomised 256]

The committed miniVGG puts BatchNorm after each ReLU, so before canonization the layer after a
BatchNorm sees inputs of both signs and the rules are also applied to the BatchNorm layers
themselves (as iNNvestigate does). `lrp_helpers.canonize` merges each BatchNorm into the next
Conv/Dense layer; the network computes the same logits, but every linear layer now sees inputs >= 0.
For each rule, on the same test images (the predicted class explained), this script prints:

1. conservation: sum of the input relevance / explained logit, median and interquartile range;
2. where the rest goes: the share of the logit each linear layer absorbs (median over images);
3. faithfulness: AOPC of region perturbation (4x4 regions, 32 of 64 replaced, as notebook 05),
   most relevant first (MoRF, higher is better) and least relevant first (LeRF, lower is better),
   regions replaced by the training mean colour or by uniform noise, and random orders;
4. cascading model randomisation (Adebayo et al. 2018): Spearman correlation of the signed and of
   the absolute maps with the original ones, after randomising the logits layer and after all.

"before": the rules on the raw network, BatchNorm treated as a linear layer, computed by the NumPy
reference in float64 (iNNvestigate with the corrected BatchNorm surrogate agrees with it);
"after": the same rules on the canonized network. iNNvestigate's own `lrp.alpha_2_beta_1` (the whole
bias in both the positive and the negative denominator) on the raw model is added for comparison.
The figure goes to images/canonization.png.
"""

import argparse
import time

import machine  # benchmarks/machine.py
import numpy as np
from tqdm.auto import tqdm

from lrp_helpers import convert, methods, setup_notebook
from lrp_helpers import reference as ref

STEPS, REGION, BATCH = 32, 4, 32
INNVESTIGATE_AB = "iNNvestigate lrp.alpha_2_beta_1"
# The rules compared, from the registry: (name, parameter value).
RULES = [
    ("lrp.0", None),
    ("lrp.epsilon", 0.1),
    ("lrp.epsilon_no_bias", 0.1),
    ("lrp.z_plus", None),
    ("lrp.gamma", 0.25),
    ("lrp.alpha_beta", 2.0),
    ("lrp.composite", None),
]
LABELS = {methods.get(name).label(value): (name, value) for name, value in RULES}
LRP0 = methods.get("lrp.0").label()
SAME_MAPS = ("after", LRP0)  # = LRP-0 before = gradient x input: checked, then not perturbed again


def explain(network, images, targets, rule):
    """NumPy reference: input relevance (N, H, W, C) and the `Conservation` of the batch, in chunks."""
    relevance, totals = [], []
    for start in range(0, len(images), BATCH):
        explanation = network.explain(images[start : start + BATCH], rule, targets[start : start + BATCH])
        names, per_layer = explanation.by_layer()
        relevance.append(explanation.input)
        totals.append(ref.conservation(names, per_layer).totals)
    return np.concatenate(relevance), ref.Conservation(names, np.concatenate(totals, axis=1))


def explain_innvestigate(keras_model, images, targets, rule):
    """The same from iNNvestigate (faster than the float64 reference for many images; they agree to 1e-4)."""
    from lrp_helpers import analysis

    relevance, totals = [], []
    with analysis.Analyzer(keras_model, rule, keep_layers=True) as analyzer:
        for start in range(0, len(images), 2 * BATCH):
            per_layer = analyzer.relevance_per_layer(
                images[start : start + 2 * BATCH], targets[start : start + 2 * BATCH]
            )
            relevance.append(per_layer.relevance[0])
            totals.append(ref.conservation(per_layer.names, per_layer.relevance).totals)
    return np.concatenate(relevance), ref.Conservation(per_layer.names, np.concatenate(totals, axis=1))


def networks(keras_model, input_shape):
    """The raw and the canonized reference network of a Keras model."""
    from lrp_helpers.canonize import MergeBatchNorm

    raw = convert.from_keras(keras_model)
    return {"before": raw, "after": MergeBatchNorm().apply(raw, input_shape)}


def all_maps(model, images, targets, progress):
    """{(stage, rule name): channel-summed map} and {(stage, rule name): Conservation}.

    iNNvestigate computes every rule, except where the registry names the reference as the engine
    (γ and the composite) on the raw network: iNNvestigate applies one rule to all its BatchNorm layers."""
    from lrp_helpers import analysis, canonize

    keras_models = {"before": model, "after": canonize.canonize(model)}
    maps, kept = {}, {}
    for stage, network in networks(model, images.shape[1:]).items():
        for name, (method, value) in LABELS.items():
            rule = methods.get(method).spec(value, ref.linear_layers(network))
            if stage == "before" and methods.get(method).engine == "reference":
                relevance, conservation = explain(network, images, targets, rule)
            else:
                relevance, conservation = explain_innvestigate(keras_models[stage], images, targets, rule)
            maps[stage, name], kept[stage, name] = relevance.sum(axis=-1), conservation
            progress.update()
    with analysis.Analyzer(model, "lrp.alpha_2_beta_1", native=True) as analyzer:
        maps["before", INNVESTIGATE_AB] = analyzer.analyze(images, targets).sum(axis=-1)
    progress.update()
    return maps, kept


def quartiles(values):
    return np.percentile(values, [25, 50, 75])


def print_conservation(maps, kept, logits):
    print("\n1. Conservation: sum of input relevance / explained logit (median [interquartile range])")
    print(f"{'rule':<32}{'before':>28}{'after':>28}")
    shares = {}
    for stage, name in maps:
        shares[stage, name] = maps[stage, name].sum(axis=(1, 2)) / logits
    for name in dict.fromkeys(name for _, name in maps):
        cells = []
        for stage in ("before", "after"):
            if (stage, name) in shares:
                q1, median, q3 = quartiles(shares[stage, name])
                cells.append(f"{median:8.3f} [{q1:7.3f}, {q3:7.3f}]")
            else:
                cells.append("—")
        print(f"{name:<32}{cells[0]:>28}{cells[1]:>28}")
    return shares


def print_absorbed(kept, linear_layers):
    print(
        "\n2. Share of the logit absorbed per linear layer (median over images; bias, ε or the rule's "
        "imbalance; 0 = passed on intact)"
    )
    for stage in ("before", "after"):
        names = [name for (s, name) in kept if s == stage]
        layers = linear_layers[stage]
        linear = [kept[stage, names[0]].names[1:].index(layer) for layer in layers]
        print(f"  {stage} canonization:")
        print(f"  {'rule':<22}" + "".join(f"{layer:>14}" for layer in layers))
        for name in names:
            medians = np.median(kept[stage, name].absorbed_share[linear], axis=1)
            print(f"  {name:<22}" + "".join(f"{value:14.3f}" for value in medians))


def perturbation(maps, logit_fn, images, targets):
    """{(direction, replacement, method): AOPC per image}, the maps and random orders."""
    from lrp_helpers import data, evaluation

    replacements = {
        "mean colour": np.broadcast_to(np.float32(data.TRAIN_MEAN), images.shape),
        "uniform noise": np.random.default_rng(0).random(images.shape).astype(np.float32),
    }
    compared = {key: relevance for key, relevance in maps.items() if key != SAME_MAPS}
    compared["", "random"] = np.random.default_rng(1).random(images.shape[:3])
    result = {}
    jobs = [(d, r, m) for d in ("MoRF", "LeRF") for r in replacements for m in compared]
    for direction, replacement, method in tqdm(jobs, desc="region perturbation"):
        order = evaluation.region_order(compared[method], REGION, most_relevant_first=direction == "MoRF")
        curves = evaluation.perturbation_curves(
            logit_fn, images, targets, order, replacements[replacement], REGION, STEPS
        )
        result[direction, replacement, method] = evaluation.aopc(curves)
    return result


def print_aopc(aopc, keys):
    print("\n3. AOPC (logit units, mean ± standard error); ABPC = MoRF - LeRF (higher = more faithful)")
    for replacement in ("mean colour", "uniform noise"):
        print(f"  regions replaced by {replacement}:")
        print(f"  {'stage':<8}{'method':<32}{'MoRF':>14}{'LeRF':>14}{'ABPC':>8}")
        for method in keys:
            if method == SAME_MAPS:
                print(f"  {method[0]:<8}{method[1]:<32}{'same maps as before':>36}")
                continue
            morf, lerf = aopc["MoRF", replacement, method], aopc["LeRF", replacement, method]
            sem = lambda v: v.std(ddof=1) / np.sqrt(len(v))  # noqa: E731
            print(
                f"  {method[0]:<8}{method[1]:<32}{morf.mean():8.2f} ±{sem(morf):.2f}"
                f"{lerf.mean():8.2f} ±{sem(lerf):.2f}{(morf - lerf).mean():8.2f}"
            )


def randomisation(model, images, targets, original):
    """{(stage, rule, 'signed'|'absolute'): (layers randomised,) mean Spearman}, cascading from the top.
    Each randomised network is canonized afresh; the engines are chosen as in `all_maps`."""
    from lrp_helpers import analysis, canonize, evaluation, models

    stages = evaluation.cascading_randomisation(model, seed=0)
    result, layers = {}, []
    for layer, weights in tqdm(stages, desc="randomisation"):
        layers.append(layer)
        with models.copy_in_own_graph(model, weights) as randomised:
            keras_models = {"before": randomised, "after": canonize.canonize(randomised)}
            maps = {}
            for stage, network in networks(randomised, images.shape[1:]).items():
                for name, (method, value) in LABELS.items():
                    rule = methods.get(method).spec(value, ref.linear_layers(network))
                    if stage == "before" and methods.get(method).engine == "reference":
                        maps[stage, name] = explain(network, images, targets, rule)[0].sum(axis=-1)
                    else:
                        with analysis.Analyzer(keras_models[stage], rule) as analyzer:
                            maps[stage, name] = analyzer.analyze(images, targets).sum(axis=-1)
            with analysis.Analyzer(randomised, "lrp.alpha_2_beta_1", native=True) as analyzer:
                maps["before", INNVESTIGATE_AB] = analyzer.analyze(images, targets).sum(axis=-1)
        for key, after in maps.items():
            before = original[key][: len(images)]
            result.setdefault((*key, "signed"), []).append(evaluation.spearman(before, after).mean())
            result.setdefault((*key, "absolute"), []).append(evaluation.spearman(np.abs(before), np.abs(after)).mean())
    return layers, result


def print_randomisation(layers, result, keys, images):
    print(
        f"\n4. Cascading randomisation, {images} images: mean Spearman correlation with the original map "
        "(1 = unchanged; a map that explains the model should fall)"
    )
    print(f"  {'stage':<8}{'method':<32}" + "".join(f"{'+' + layer:>14}" for layer in layers))
    for kind in ("signed", "absolute"):
        print(f"  {kind} maps:")
        for method in keys:
            print(f"  {method[0]:<8}{method[1]:<32}" + "".join(f"{v:14.2f}" for v in result[(*method, kind)]))


def figure(shares, aopc, layers, spearman, compared):
    import matplotlib.pyplot as plt

    from lrp_helpers import save_fig

    rule_names = list(dict.fromkeys(name for _, name in compared if name != "random"))
    colours = {"before": "tab:orange", "after": "tab:blue"}
    fig, axes = plt.subplots(1, 3, figsize=(20, 5.5), gridspec_kw={"wspace": 0.55})
    ax = axes[0]
    for offset, stage in ((-0.2, "before"), (0.2, "after")):
        present = [i for i, name in enumerate(rule_names) if (stage, name) in shares]
        box = ax.boxplot(
            [shares[stage, rule_names[i]] for i in present],
            positions=np.array(present) + offset,
            widths=0.35,
            vert=False,
            showfliers=False,
            patch_artist=True,
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colours[stage])
        ax.plot([], [], "s", color=colours[stage], label=f"{stage} canonization")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("symlog", linthresh=1)
    ax.set(
        yticks=range(len(rule_names)),
        yticklabels=rule_names,
        xlabel="sum of input relevance / logit",
        title="conservation (boxes: quartiles; 1 = conserved)",
    )
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1]
    labels = [name for name in rule_names] + ["random"]
    for offset, stage in ((-0.2, "before"), (0.2, "after")):
        keys = [(stage, name) if (stage, name) in compared else None for name in rule_names] + [("", "random")]
        for replacement, hatch in (("mean colour", None), ("uniform noise", "//")):
            keys = [("before", LRP0) if k == SAME_MAPS else k for k in keys]
            values = [
                (aopc["MoRF", replacement, k] - aopc["LeRF", replacement, k]).mean() if k else np.nan for k in keys
            ]
            shift = offset + (-0.1 if hatch is None else 0.1)
            ax.barh(
                np.arange(len(labels)) + shift,
                values,
                height=0.18,
                color=colours[stage],
                hatch=hatch,
                edgecolor="white",
                label=f"{stage}, {replacement}",
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set(
        yticks=range(len(labels)),
        yticklabels=labels,
        xlabel="ABPC = AOPC MoRF - AOPC LeRF (logit)",
        title="faithfulness (higher = better)",
    )
    ax.invert_yaxis()
    ax.legend(fontsize=7)

    ax = axes[2]
    x = np.arange(len(layers) + 1)
    shown = (("lrp.epsilon", 0.1), ("lrp.z_plus", None), ("lrp.alpha_beta", 2.0), ("lrp.composite", None))
    for colour, name in enumerate(methods.get(m).label(v) for m, v in shown):
        for stage, style in (("before", "--"), ("after", "-")):
            values = [1.0] + list(spearman[stage, name, "absolute"])
            ax.plot(x, values, style, color=f"C{colour}", marker="o", ms=3, label=f"{name}, {stage}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(
        xticks=x,
        xticklabels=["original"] + [f"+{layer}" for layer in layers],
        ylabel="Spearman, absolute maps",
        title="cascading randomisation (lower = more model-dependent)",
    )
    ax.tick_params(axis="x", rotation=35)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return save_fig("canonization", fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="test images for sections 1-3")
    parser.add_argument("--randomised", type=int, default=256, help="of them, images for section 4")
    args = parser.parse_args()
    setup_notebook()
    import tensorflow as tf

    from lrp_helpers import data, models

    started = time.perf_counter()
    model, _ = models.load_trained_model()
    cifar = data.load_cifar10(train_size=10, test_size=args.images)
    images = cifar.x_test
    logits_all = models.logits(model, images)
    targets = logits_all.argmax(axis=1)
    logits = logits_all[np.arange(len(images)), targets]
    print(
        f"machine: {machine.describe()}, TensorFlow {tf.__version__}; "
        f"{len(images)} test images (stratified), the predicted class explained; "
        f"randomisation on the first {args.randomised}"
    )

    with tqdm(total=2 * len(LABELS) + 1, desc="explaining") as progress:
        maps, kept = all_maps(model, images, targets, progress)
    lrp0_gap = np.abs(maps["before", LRP0] - maps["after", LRP0]).max() / np.abs(maps["after", LRP0]).max()
    print(
        f"LRP-0 maps before vs after canonization: max difference {lrp0_gap:.1e} of the largest value "
        "(LRP-0 = gradient x input on both, so canonization must not change them)"
    )
    keys = [*maps, ("", "random")]
    shares = print_conservation(maps, kept, logits)
    print_absorbed(
        kept,
        {
            stage: [layer.name for layer in network.layers if layer.has_weights]
            for stage, network in networks(model, images.shape[1:]).items()
        },
    )
    aopc = perturbation(maps, lambda x: models.logits(model, x), images, targets)
    print_aopc(aopc, keys)
    layers, spearman = randomisation(model, images[: args.randomised], targets[: args.randomised], maps)
    print_randomisation(layers, spearman, [m for m in keys if m[1] != "random"], args.randomised)
    print(f"\nfigure: {figure(shares, aopc, layers, spearman, keys)}")
    print(f"total time {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
