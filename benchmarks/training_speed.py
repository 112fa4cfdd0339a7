"""Seconds per training epoch of the miniVGG under different input pipelines and TF settings.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/training_speed.py [--steps 100]

Each variant runs in its own process (XLA and thread settings only take effect at start-up),
trains one untimed warm-up pass and then `--steps` timed batches, and reports the time
scaled to one epoch of 50,000 images. The batch size and optimizer are the fast recipe's
throughout. Variants:

  arrays        the original recipe's input: numpy arrays, no augmentation
  sequence      the fast recipe's input: a keras Sequence that flips images at random in numpy
  tf_data       the same flips as a tf.data map, parallel calls and prefetch
  threads_2_1   `sequence` with 2 intra-op threads and 1 inter-op thread (default: 2 and 2)
  xla           `sequence` with XLA auto-clustering on the CPU (TF_XLA_FLAGS)
"""

import argparse
import json
import os
import subprocess
import sys
import time

import machine  # benchmarks/machine.py

EPOCH_IMAGES = 50_000
VARIANTS = ("arrays", "sequence", "tf_data", "threads_2_1", "xla")


def measure(variant: str, steps: int) -> dict:
    """Runs inside the child process: seconds per epoch for one variant."""
    from lrp_helpers import setup_notebook

    setup_notebook()
    import tensorflow as tf

    from lrp_helpers import data, models

    if variant == "threads_2_1":
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    recipe = models.FAST_RECIPE
    batch_size = recipe.batch_size
    cifar = data.load_cifar10(train_size=batch_size * steps, test_size=100)
    targets = tf.keras.utils.to_categorical(cifar.y_train, 10)
    model = models.compile_model(models.mini_vgg(), recipe)
    if variant == "arrays":
        inputs = {"x": cifar.x_train, "y": targets, "batch_size": batch_size}
    elif variant == "tf_data":

        def augment(image, label):
            return tf.image.random_flip_left_right(image), label

        dataset = (
            tf.data.Dataset.from_tensor_slices((cifar.x_train, targets))
            .shuffle(len(targets))
            .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        inputs = {"x": dataset, "steps_per_epoch": steps}
    else:
        inputs = {"x": models._AugmentedBatches(cifar.x_train, targets, batch_size, pad=recipe.crop)}
    model.fit(**inputs, epochs=1, verbose=0)  # warm-up: graph building, first-call overheads
    start = time.perf_counter()
    model.fit(**inputs, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"variant": variant, "batch": batch_size, "s_per_epoch": seconds * EPOCH_IMAGES / (batch_size * steps)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed batches per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps)))
        return
    import tensorflow as tf

    print(
        f"machine: {machine.describe()}, TensorFlow {tf.__version__}; "
        f"{args.steps} timed batches per variant, scaled to {EPOCH_IMAGES:,} images"
    )
    print(f"{'variant':<13}{'batch':>6}{'s/epoch':>9}")
    for variant in args.variants:
        env = dict(os.environ)
        if variant == "xla":
            env["TF_XLA_FLAGS"] = "--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit"
        result = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--steps", str(args.steps)],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            print(f"{variant:<13} failed: {result.stderr.strip().splitlines()[-1]}")
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{variant:<13}{row['batch']:>6}{row['s_per_epoch']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
