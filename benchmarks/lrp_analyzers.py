"""Build and run 8 LRP variants on 256 CIFAR-10 test images of the miniVGG; print the timings.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/lrp_analyzers.py [--images 256]

Goal on 2 CPU cores: all 8 built and run in <= 20 s; LRP-eps <= 3x a plain forward pass.
"""
import argparse
import os
import platform
import time

from lrp_helpers import setup_notebook

VARIANTS = [
    ("lrp.z", {}),
    ("lrp.epsilon", {"epsilon": 0.1}),
    ("lrp.epsilon", {"epsilon": 1.0}),
    ("lrp.z_plus", {}),
    ("lrp.alpha_1_beta_0_IB", {}),
    ("lrp.alpha_2_beta_1_IB", {}),
    ("lrp.sequential_preset_a", {}),
    ("lrp.sequential_preset_b", {}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    setup_notebook()
    from lrp_helpers import analysis, data, models

    model, _ = models.load_trained_model()
    images = data.load_cifar10(train_size=10, test_size=max(args.images, 10)).x_test[: args.images]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {len(images)} images")

    forward = analysis.Analyzer(model, "gradient")  # any analyzer: we only use its model here
    forward.logits(images)  # warm-up
    start = time.perf_counter()
    forward.logits(images)
    forward_seconds = time.perf_counter() - start
    print(f"plain forward pass: {forward_seconds:.2f} s")

    total_start = time.perf_counter()
    print(f"{'method':<28}{'build s':>9}{'first run s':>13}{'run s':>8}{'run / forward':>15}")
    for method, params in VARIANTS:
        analyzer = analysis.Analyzer(model, method, **params)
        start = time.perf_counter()
        analyzer.analyze(images, batch_size=len(images))
        first = time.perf_counter() - start
        start = time.perf_counter()
        analyzer.analyze(images, batch_size=len(images))
        run = time.perf_counter() - start
        label = method + (f" {params}" if params else "")
        print(f"{label:<28}{analyzer.build_seconds:>9.2f}{first:>13.2f}{run:>8.2f}{run / forward_seconds:>15.1f}")
        analyzer.close()
    print(f"all {len(VARIANTS)} variants built and run in {time.perf_counter() - total_start:.1f} s")


if __name__ == "__main__":
    main()
