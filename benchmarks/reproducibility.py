"""Is training reproducible? Trains the miniVGG briefly in fresh processes and compares the weights.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/reproducibility.py [--images 2000] [--epochs 1]

Each run is a new Python process that seeds everything as notebook 02 does (`setup_notebook`,
`models.fresh_mini_vgg`, seed 42), trains the fast recipe on the first `--images` training images
and prints a SHA-256 digest of all weights. Runs: twice with TensorFlow's default thread pools (one
thread per core), and once with one thread (as CI runs). Equal digests mean bit-identical models.
Across machines nothing is compared here: other CPUs (instruction sets, core counts) and other
TensorFlow builds change the order of floating-point sums, so expect different weights there.
"""

import argparse
import hashlib
import os
import subprocess
import sys

import machine  # benchmarks/machine.py

RUNS = {  # label: environment changes
    "default threads, run 1": {},
    "default threads, run 2": {},
    "one thread": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
}


def train_and_digest(images: int, epochs: int) -> str:
    """Runs in the child process: the digest of the trained weights and the final test accuracy."""
    from lrp_helpers import setup_notebook

    seed = setup_notebook().seed
    from lrp_helpers import data, models

    cifar = data.load_cifar10(train_size=images, test_size=500)
    model = models.fresh_mini_vgg(seed, models.FAST_RECIPE)
    history = models.train(model, cifar, models.FAST_RECIPE, epochs=epochs, progress=False, augmentation_seed=seed)
    digest = hashlib.sha256(b"".join(weights.tobytes() for weights in model.get_weights())).hexdigest()
    return f"{digest[:16]} {history.history['val_accuracy'][-1]:.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2_000, help="training images")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(train_and_digest(args.images, args.epochs))
        return
    print(f"machine: {machine.describe()}; {args.images} images, {args.epochs} epoch(s)")
    print(f"{'run':<26}{'weights digest':>18}{'test accuracy':>15}")
    digests = {}
    for label, changes in RUNS.items():
        command = [sys.executable, __file__, "--child", "--images", str(args.images), "--epochs", str(args.epochs)]
        result = subprocess.run(command, env=os.environ | changes, capture_output=True, text=True, check=True)
        digest, accuracy = result.stdout.strip().splitlines()[-1].split()
        digests[label] = digest
        print(f"{label:<26}{digest:>18}{accuracy:>15}", flush=True)
    repeated = digests["default threads, run 1"] == digests["default threads, run 2"]
    threads = digests["default threads, run 1"] == digests["one thread"]
    print(f"same settings twice: {'bit-identical' if repeated else 'DIFFERENT'}")
    print(f"default threads vs one thread: {'bit-identical' if threads else 'different'}")


if __name__ == "__main__":
    main()
