"""The concept atlas of one layer over the CIFAR-10 test set with our TensorFlow engine, timed (issue 31's goal:
at most 2 minutes on 2 cores).

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/concept_atlas.py [--layer block2_conv2] [--k 8] \
        [--method lrp.composite] [--images 10000] [--record benchmarks/results/concept_atlas.json]

What `concepts.concept_atlas` computes for every channel of the layer (notebook 11): each test image's channel
relevance (explaining its true class) and maximal activation, the k reference images of each channel by
relevance maximisation and by activation maximisation, and the conditional heatmap and crop of each of them
(one conditional backward pass per (image, channel) pair). The method (an LRP method of the registry) runs on the
committed miniVGG canonized, as the notebooks explain it. Timed: building the engine, and the atlas; loading
the data and the model are not. The record also holds what the atlas found: how many of each channel's RelMax
images are among its ActMax images.
"""

import argparse
import datetime
import json
import time
from pathlib import Path

import machine  # benchmarks/machine.py
import numpy as np

from lrp_helpers import canonize, concepts, data, engine, keras_layers, methods, models, setup_notebook

GOAL_SECONDS = 120


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block2_conv2")
    parser.add_argument("--k", type=int, default=8, help="reference images per channel and way")
    parser.add_argument("--method", default="lrp.composite", help="an LRP method of lrp_helpers.methods.REGISTRY")
    parser.add_argument("--images", type=int, default=10_000, help="the first N test images")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--record", metavar="FILE", help="also write the timings and findings to this JSON file")
    args = parser.parse_args()
    setup_notebook()
    import tensorflow as tf

    cifar = data.load_cifar10(train_size=10)
    images, labels = cifar.x_test[: args.images], cifar.y_test[: args.images]
    model = canonize.canonize(models.load_model(models.model_path()))
    rule = methods.get(args.method).spec(None, keras_layers.linear_layers(model))
    print(f"{machine.describe()}, TensorFlow {tf.__version__}")
    print(f"{args.layer}: {len(images)} test images, k = {args.k}, {methods.get(args.method).label()}")

    started = time.perf_counter()
    with engine.Engine(model, rule) as lrp:
        built = time.perf_counter()
        atlas = concepts.concept_atlas(lrp, images, labels, args.layer, k=args.k, batch_size=args.batch_size)
    finished = time.perf_counter()
    seconds = {"engine": built - started, "atlas": finished - built, "total": finished - started}
    shared = atlas.shared()
    verdict = "met" if seconds["total"] <= GOAL_SECONDS else "MISSED"
    print(
        f"engine built in {seconds['engine']:.1f} s; atlas of {len(atlas.channels)} channels: {seconds['atlas']:.1f} s"
    )
    print(f"total {seconds['total']:.1f} s, goal {GOAL_SECONDS} s: {verdict}")
    print(f"RelMax and ActMax images in common: {shared.mean():.0%} on average, none for {np.mean(shared == 0):.0%}")

    if args.record:
        result = {
            "date": datetime.date.today().isoformat(),
            "machine": machine.record() | {"tensorflow": tf.__version__},
            "layer": args.layer,
            "images": len(images),
            "k": args.k,
            "method": args.method,
            "channels": len(atlas.channels),
            "conditional_passes": int(atlas.by_relevance.size + atlas.by_activation.size),
            "seconds": {name: round(value, 1) for name, value in seconds.items()},
            "goal_seconds": GOAL_SECONDS,
            "shared_share_by_channel": [round(float(value), 3) for value in shared],
        }
        Path(args.record).write_text(json.dumps(result, indent=1) + "\n")
        print(f"recorded in {args.record}")


if __name__ == "__main__":
    main()
