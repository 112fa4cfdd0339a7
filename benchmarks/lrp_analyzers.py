"""Build and run 8 LRP variants on 256 CIFAR-10 test images of the miniVGG; print the timings.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/lrp_analyzers.py [--images 256]

Goal on 2 CPU cores: all 8 built and run in <= 20 s; LRP-eps <= 3x a plain forward pass.
"""

import argparse
import time

import machine  # benchmarks/machine.py

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


def timed(function, repeats: int = 3) -> float:
    """Mean seconds of `repeats` calls, after one warm-up call."""
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    setup_notebook()
    from lrp_helpers import analysis, data, models

    model, _ = models.load_trained_model()
    images = data.load_cifar10(train_size=10, test_size=max(args.images, 10)).x_test[: args.images]
    print(f"machine: {machine.describe()}; {len(images)} images")

    forward = analysis.Analyzer(model, "gradient")  # its model gives the forward pass
    forward_seconds = timed(lambda: forward.logits(images))
    print(f"plain forward pass: {forward_seconds:.3f} s, {len(images) / forward_seconds:,.0f} images/s")
    gradient_seconds = timed(lambda: forward.analyze(images, batch_size=len(images)))
    print(
        f"plain gradient (forward + backward, the cheapest backward pass): {gradient_seconds:.2f} s, "
        f"{gradient_seconds / forward_seconds:.1f}x the forward pass"
    )

    spent = 0.0
    print(
        f"{'method':<28}{'build s':>9}{'first run s':>13}{'run s (mean of 3)':>18}{'images/s':>10}{'run / forward':>15}"
    )
    for method, params in VARIANTS:
        analyzer = analysis.Analyzer(model, method, native=True, **params)  # iNNvestigate's own analyzers, timed
        start = time.perf_counter()
        analyzer.analyze(images, batch_size=len(images))
        first = time.perf_counter() - start
        spent += analyzer.build_seconds + first
        run = timed(lambda analyzer=analyzer: analyzer.analyze(images, batch_size=len(images)))
        label = method + (f" {params}" if params else "")
        print(
            f"{label:<28}{analyzer.build_seconds:>9.2f}{first:>13.2f}{run:>18.2f}{len(images) / run:>10,.0f}"
            f"{run / forward_seconds:>15.1f}"
        )
        analyzer.close()
    print(f"all {len(VARIANTS)} variants built and run once: {spent:.1f} s")


if __name__ == "__main__":
    main()
