"""How fast does the explorer (notebook 07) update? First use of each method vs later updates.

    LRP_CIFAR10_DIR=... .venv/bin/python benchmarks/explorer_updates.py

Goal on 2 CPU cores: after the first build of a method, an update (analysis + drawing) < 1 s.
"""

import time

import matplotlib

matplotlib.use("Agg")

from lrp_helpers import setup_notebook  # noqa: E402


def main():
    setup_notebook()
    import matplotlib.pyplot as plt

    from lrp_helpers import data, explorer, methods, models

    model, _ = models.load_trained_model()
    explore = explorer.Explorer(model, data.load_cifar10(train_size=10, test_size=1_000))
    print(f"{'method':<28}{'first update s':>15}{'later updates, max s':>22}")
    for method in explorer.METHODS:  # registry names
        times = []
        for index in range(6):
            start = time.perf_counter()
            figure = explorer.render(explore.explain(index, method))
            plt.close(figure)
            times.append(time.perf_counter() - start)
        print(f"{methods.get(method).title:<28}{times[0]:>15.2f}{max(times[1:]):>22.2f}")


if __name__ == "__main__":
    main()
