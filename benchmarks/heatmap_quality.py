"""Do the original recipe's and the fast recipe's models get equally faithful LRP heatmaps?

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/heatmap_quality.py \
        --models seed=models/seed_benchmark.h5 fast=models/fast_benchmark.h5

For each model: LRP heatmaps of 500 test images (50 per class, the predicted class explained),
then region perturbation as in notebook 05 (4x4 regions replaced by the training mean colour,
32 of 64 regions). The models' logits have different scales (label smoothing shrinks them), so
each AOPC is divided by the image's unperturbed logit: "relative AOPC" is the average share of the
logit lost. Most relevant first (MoRF): higher is more faithful; least relevant first (LeRF):
lower is; random region orders give the baseline.
"""

import argparse

import machine  # benchmarks/machine.py
import numpy as np

from lrp_helpers import setup_notebook

METHODS = [("lrp.epsilon", 0.1), ("lrp.composite", None), ("random", None)]  # registry names and values
STEPS, REGION = 32, 4


def relative_aopc(logit_fn, images, targets, maps, most_relevant_first):
    from lrp_helpers import data, evaluation

    order = evaluation.region_order(maps, REGION, most_relevant_first=most_relevant_first)
    replacement = np.broadcast_to(np.float32(data.TRAIN_MEAN), images.shape)
    curves = evaluation.perturbation_curves(logit_fn, images, targets, order, replacement, REGION, STEPS)
    return evaluation.aopc(curves) / np.abs(curves[:, 0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", required=True, help="name=path.h5 pairs")
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    setup_notebook()
    import tensorflow as tf

    from lrp_helpers import data, methods, models

    cifar = data.load_cifar10(train_size=10, test_size=args.images)
    print(
        f"machine: {machine.describe()}, TensorFlow {tf.__version__}; "
        f"{len(cifar.x_test)} test images, the predicted class explained"
    )
    print(f"{'model':<8}{'accuracy':>9}  {'method':<22}{'rel. AOPC MoRF':>16}{'rel. AOPC LeRF':>16}{'MoRF - LeRF':>13}")
    for pair in args.models:
        name, path = pair.split("=", 1)
        model = models.load_model(path)

        def logit_fn(images, model=model):
            return models.logits(model, images)

        targets = logit_fn(cifar.x_test).argmax(axis=1)
        accuracy = (targets == cifar.y_test).mean()
        for method, value in METHODS:
            method_name = methods.get(method).label(value)
            maps = methods.relevance_maps(model, cifar.x_test, method, value, targets)
            morf = relative_aopc(logit_fn, cifar.x_test, targets, maps, True)
            lerf = relative_aopc(logit_fn, cifar.x_test, targets, maps, False)
            sem = lambda values: values.std(ddof=1) / np.sqrt(len(values))  # noqa: E731
            print(
                f"{name:<8}{accuracy:>9.1%}  {method_name:<22}{morf.mean():>10.3f} ±{sem(morf):.3f}"
                f"{lerf.mean():>10.3f} ±{sem(lerf):.3f}{(morf - lerf).mean():>13.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
