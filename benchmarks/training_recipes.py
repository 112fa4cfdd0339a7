"""Train the miniVGG with each recipe on the full CIFAR-10 and print what it costs.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/training_recipes.py [--recipes original fast] [--seeds 42 43 44]
        [--save] [--record FILE [--append]]

For each recipe and seed: seconds per epoch, the first epoch (and wall time) at which test accuracy
reached 85% (or the best reached), and the final test accuracy; with several seeds, each recipe's
lowest, mean and highest final accuracy (over the whole record with --append). A seed sets the
weights' initialisation (TensorFlow's global seed) and the flips, crops and image order of augmented
training. Same machine, one run per seed.
"""

import argparse
import dataclasses
import datetime
import json
import os
import time

import machine  # benchmarks/machine.py
import numpy as np

from lrp_helpers import setup_notebook

TARGET = 0.85


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=["original", "fast"],
        help="original, fast, fast_first (the fast recipe as first found), the trial variants fast_lr3, fast_lr6, "
        "fast_lr20, fast_b64_ls, fast_sgd, or a variant of a recipe: fast:weight_decay=0.05,crop=2",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[42], help="one training run per seed")
    parser.add_argument("--save", action="store_true", help="save each model to models/<recipe>[_<seed>]_benchmark.h5")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = one per core)")
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="also write every run (seconds and test accuracy at each epoch's end) to this JSON file",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the runs to those already in the --record file (made on the same machine) instead of replacing them",
    )
    args = parser.parse_args()
    if args.append and not args.record:
        parser.error("--append needs --record FILE")
    setup_notebook()
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from lrp_helpers import data, models

    recipes = {
        "original": models.ORIGINAL_RECIPE,
        "fast": models.FAST_RECIPE,
        "fast_first": dataclasses.replace(  # the fast recipe as first found, the base of most trials
            models.FAST_RECIPE,
            name="fast_first",
            warmup=0.25,
            label_smoothing=0.1,
            block_dropout=0.25,
            head_dropout=0.5,
        ),
        "fast_b64_ls": models.Recipe(
            name="fast_b64_ls",
            learning_rate=2e-3,
            batch_size=64,
            epochs=12,
            augment=True,
            schedule="one_cycle",
            label_smoothing=0.1,
        ),
        "fast_sgd": models.Recipe(
            name="fast_sgd",
            learning_rate=0.05,
            batch_size=128,
            epochs=12,
            augment=True,
            schedule="one_cycle",
            label_smoothing=0.1,
            optimizer="sgd",
        ),
        "fast_lr3": models.Recipe(
            name="fast_lr3", learning_rate=3e-3, batch_size=128, epochs=12, augment=True, schedule="one_cycle"
        ),
        "fast_lr6": models.Recipe(
            name="fast_lr6",
            learning_rate=6e-3,
            batch_size=128,
            epochs=12,
            augment=True,
            schedule="one_cycle",
            label_smoothing=0.1,
        ),
        "fast_lr20": models.Recipe(
            name="fast_lr20",
            learning_rate=2e-2,
            batch_size=128,
            epochs=12,
            augment=True,
            schedule="one_cycle",
            label_smoothing=0.1,
        ),
    }
    for name in args.recipes:
        if ":" in name:  # a variant, e.g. fast:weight_decay=0.05,crop=2
            base, changes = name.split(":", 1)
            fields = {key: value for key, value in (change.split("=") for change in changes.split(","))}
            typed = {
                key: value.lower() in ("1", "true")
                if isinstance(getattr(recipes[base], key), bool)
                else type(getattr(recipes[base], key))(value)
                for key, value in fields.items()
            }
            recipes[name] = dataclasses.replace(recipes[base], name=name, **typed)
    cifar = data.load_cifar10()
    print(f"machine: {machine.describe()}, TensorFlow {tf.__version__}")
    rows = []
    for name in args.recipes:
        for seed in args.seeds:
            rows.append((name, seed, *train_once(recipes[name], f"{name} seed {seed}", seed, cifar, args.save)))
    print(
        f"\n{'recipe':<8}{'seed':>6}{'epochs':>7}{'s/epoch':>9}{'total min':>11}{'to 85%':>22}"
        f"{'final acc':>11}{'best acc':>10}"
    )
    for name, seed, recipe, seconds, accuracy, first in rows:
        to_target = f"epoch {first + 1}, {seconds[first] / 60:.1f} min" if first is not None else "not reached"
        print(
            f"{name:<8}{seed:>6}{recipe.epochs:>7}{seconds[-1] / recipe.epochs:>9.1f}{seconds[-1] / 60:>11.1f}"
            f"{to_target:>22}{accuracy[-1]:>11.2%}{accuracy.max():>10.2%}"
        )
    runs = [
        {
            "recipe": dataclasses.asdict(recipe) | {"label": name},
            "seed": seed,
            "date": datetime.date.today().isoformat(),
            "epoch_end_seconds": [round(float(value), 1) for value in seconds],
            "test_accuracy": [round(float(value), 4) for value in accuracy],
        }
        for name, seed, recipe, seconds, accuracy, _ in rows
    ]
    if args.record:
        runs = record(args.record, runs, tf.__version__, args.append)
    print_spread(runs)


def record(path, runs, tensorflow_version, append=False):
    """Write the runs to `path` as JSON with the machine they ran on; with `append`, after the runs
    already recorded there (on the same machine). Returns every run in the file."""
    this_machine = machine.record() | {"tensorflow": tensorflow_version}
    if append and os.path.exists(path):
        with open(path) as file:
            earlier = json.load(file)
        if earlier["machine"] != this_machine:
            raise SystemExit(
                f"{path} was recorded on {earlier['machine']}, not on this machine ({this_machine}): "
                "timings and trained weights differ between machines, so record these runs in a new file"
            )
        runs = earlier["runs"] + runs
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as file:
        json.dump({"machine": this_machine, "runs": runs}, file, indent=1)
    print(f"recorded {len(runs)} run(s) in {path}")
    return runs


def print_spread(runs):
    """The lowest, mean and highest final test accuracy of each recipe that ran with several seeds.
    Runs of the same settings count together, whatever the recipe was called when they ran."""
    by_settings = {}
    for run in runs:
        settings = {key: value for key, value in run["recipe"].items() if key not in ("name", "label")}
        by_settings.setdefault(json.dumps(settings, sort_keys=True), []).append(run)
    for same in by_settings.values():
        final = np.array([run["test_accuracy"][-1] for run in same])
        if len(final) > 1:
            print(
                f"{same[-1]['recipe']['label']}: final test accuracy over {len(final)} seeds: "
                f"lowest {final.min():.2%}, mean {final.mean():.2%}, highest {final.max():.2%}"
            )


def train_once(recipe, label, seed, cifar, save):
    """One training run: (recipe, seconds at each epoch's end, test accuracy per epoch, first epoch
    at or above the target accuracy or None)."""
    import tensorflow as tf

    from lrp_helpers import models

    model = models.fresh_mini_vgg(seed, recipe)
    epoch_ends = []

    class Clock(tf.keras.callbacks.Callback):
        """Records when each epoch ends and prints its accuracies."""

        def on_epoch_end(self, epoch, logs=None):
            epoch_ends.append(time.perf_counter())
            print(
                f"  {label} epoch {epoch + 1}: test accuracy {logs['val_accuracy']:.4f}, "
                f"training accuracy {logs['accuracy']:.4f}",
                flush=True,
            )

    start = time.perf_counter()
    history = models.train(model, cifar, recipe, progress=False, callbacks=[Clock()], augmentation_seed=seed)
    seconds = np.array(epoch_ends) - start
    accuracy = np.array(history.history["val_accuracy"])
    reached = np.flatnonzero(accuracy >= TARGET)
    if save:
        stem = recipe.name.replace(":", "_").replace(",", "_").replace("=", "")
        models.save_model(
            model,
            f"models/{stem}_{seed}_benchmark.h5",
            recipe=recipe,
            seed=seed,
            test_accuracy=float(accuracy[-1]),
        )
    return recipe, seconds, accuracy, int(reached[0]) if len(reached) else None


if __name__ == "__main__":
    main()
