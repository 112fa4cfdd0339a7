"""How much do the notebooks' numbers move between training runs? Recomputes them on several models.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/across_runs.py MODEL.h5 [MODEL.h5 ...] \
        [--record benchmarks/results/across_runs.json]

For each model (e.g. the three seeds of `training_recipes.py --seeds 42 43 44 --save`): its test accuracy,
and notebook 03's median share of the explained logit that reaches the pixels under LRP-ε (ε = 0.01, 0.1,
1) on the first 32 test images, computed by the float64 reference as notebook 03 does. With --record the
figures also go to a JSON file.
"""

import argparse
import datetime
import json
from pathlib import Path

import machine  # benchmarks/machine.py
import numpy as np

from lrp_helpers import convert, setup_notebook

EPSILONS = (0.01, 0.1, 1.0)
SAMPLE = 32  # notebook 03's sample


def measure(path: Path, cifar) -> dict:
    from lrp_helpers import models
    from lrp_helpers import reference as ref

    model = models.load_model(path)
    network = convert.from_keras(model)
    sample = cifar.x_test[:SAMPLE]
    shares = {}
    for eps in EPSILONS:
        conservation = ref.conservation(*network.explain(sample, ref.Epsilon(eps)).by_layer())
        shares[f"{eps:g}"] = float(np.median(conservation.input_share))
    return {
        "model": path.name,
        "metadata": models.load_metadata(path),
        "test_accuracy": models.accuracy(model, cifar.x_test, cifar.y_test),
        "median_pixel_share_by_epsilon": shares,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--record", metavar="FILE", help="write the figures to this JSON file")
    args = parser.parse_args()
    setup_notebook()
    from lrp_helpers import data

    cifar = data.load_cifar10(train_size=10)
    print(f"machine: {machine.describe()}")
    print(f"{'model':<32}{'test accuracy':>15}" + "".join(f"{'share, ε = ' + format(e, 'g'):>18}" for e in EPSILONS))
    rows = []
    for path in args.models:
        row = measure(path, cifar)
        rows.append(row)
        shares = row["median_pixel_share_by_epsilon"].values()
        print(f"{path.name:<32}{row['test_accuracy']:>15.2%}" + "".join(f"{share:>18.1%}" for share in shares))
    for eps in EPSILONS:
        values = [row["median_pixel_share_by_epsilon"][f"{eps:g}"] for row in rows]
        print(f"ε = {eps:g}: median share from {min(values):.1%} to {max(values):.1%} over {len(values)} models")
    if args.record:
        result = {"date": datetime.date.today().isoformat(), "machine": machine.record(), "models": rows}
        Path(args.record).write_text(json.dumps(result, indent=1, default=str) + "\n")
        print(f"recorded in {args.record}")


if __name__ == "__main__":
    main()
