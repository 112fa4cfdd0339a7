"""AttnLRP against a plain gradient on notebook 10's transformer: seconds per batch, measured in one run.

    .venv/bin/python benchmarks/transformer_speed.py [--batch 64] [--repeats 9]
        [--record benchmarks/results/transformer_speed.json]

The model: models/text_transformer.h5 if it exists (the trained one), else a freshly built text_transformer of
the default size (vocabulary 20,000, 256 tokens). The batch: `--batch` messages of random token ids, each of a
random length from 16 to 256 tokens, padded (the cost does not depend on which tokens they are). Each method
explains the predicted class of the batch, once to warm up and then `--repeats` times, the repeats of the methods
interleaved so that other load on the machine falls on all of them alike; the median is reported:

  attnlrp         TransformerEngine(model, rules.transformer_composite("attnlrp")).explain(ids, layers=False)
  cp              the same with CP-LRP
  gradient        TransformerEngine(model, "input_t_gradient").explain(ids, layers=False): the ordinary
                  gradient through the same graph, times the input
  keras_gradient  the same input × gradient in Keras's own graph, the predicted logit chosen inside the graph:
                  one forward and one backward pass, the least a gradient costs

The engine's `explain` runs the forward pass twice (once to resolve the target on the logits, once with the
backward pass), so the ratio to keras_gradient includes that second forward pass. Issue 30 asks for AttnLRP
≤ 2× a plain gradient on the same model.
"""

import argparse
import datetime
import functools
import json
import statistics
import time
from pathlib import Path

import machine  # benchmarks/machine.py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "models" / "text_transformer.h5"
VOCABULARY = 20_000  # the default size's vocabulary, for a fresh model
GOAL = 2.0  # AttnLRP / plain gradient (issue 30)


def load_or_build():
    """(model, where it came from)."""
    import tensorflow as tf

    from lrp_helpers import transformer  # registers the model's layers for loading

    if TRAINED.exists():
        return tf.keras.models.load_model(TRAINED, compile=False), str(TRAINED.relative_to(ROOT))
    return transformer.text_transformer(VOCABULARY), f"a fresh text_transformer({VOCABULARY})"


def random_messages(count: int, vocabulary: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocabulary, (count, length))
    lengths = rng.integers(16, length + 1, count)
    ids[np.arange(length) >= lengths[:, None]] = 0  # padding
    return ids


def keras_input_times_gradient(model):
    """ids -> Σ_d x0 ⊙ ∂(predicted logit)/∂x0 per token, in Keras's own graph."""
    import tensorflow as tf

    embedding, logits = model.get_layer("embedding").output, model.get_layer("logits").output
    gradient = tf.gradients(tf.reduce_sum(tf.reduce_max(logits, axis=1)), embedding)[0]
    relevance = tf.reduce_sum(embedding * gradient, axis=-1)
    session = tf.compat.v1.keras.backend.get_session()
    return lambda ids: session.run(relevance, {model.input: ids})


def measure(model, ids, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each method on `ids`, `repeats` times each, interleaved, after a warm-up."""
    from lrp_helpers import engine, rules

    engines = {
        "attnlrp": engine.TransformerEngine(model, rules.transformer_composite("attnlrp")),
        "cp": engine.TransformerEngine(model, rules.transformer_composite("cp")),
        "gradient": engine.TransformerEngine(model, "input_t_gradient"),
    }
    methods = {name: functools.partial(lrp.explain, layers=False) for name, lrp in engines.items()}
    methods["keras_gradient"] = keras_input_times_gradient(model)
    for method in methods.values():
        method(ids)
    seconds = {name: [] for name in methods}
    for _ in range(repeats):
        for name, method in methods.items():
            start = time.perf_counter()
            method(ids)
            seconds[name].append(time.perf_counter() - start)
    for lrp in engines.values():
        lrp.close()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="messages per batch")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per method")
    parser.add_argument("--record", metavar="FILE", help="also write the timings to this JSON file")
    args = parser.parse_args()
    from lrp_helpers import setup_notebook

    setup_notebook()
    import tensorflow as tf

    model, source = load_or_build()
    vocabulary, length = model.get_layer("embedding").vocabulary_size, model.input_shape[1]
    ids = random_messages(args.batch, vocabulary, length)
    seconds = measure(model, ids, args.repeats)
    median = {name: statistics.median(times) for name, times in seconds.items()}
    ratios = {
        "attnlrp / gradient": median["attnlrp"] / median["gradient"],
        "cp / gradient": median["cp"] / median["gradient"],
        "attnlrp / keras_gradient": median["attnlrp"] / median["keras_gradient"],
    }
    print(f"machine: {machine.describe()}, TensorFlow {tf.__version__}")
    print(f"model: {source}; {args.batch} messages of {length} tokens; median of {args.repeats}")
    for name, value in median.items():
        print(f"  {name:<16}{value:8.3f} s")
    for name, ratio in ratios.items():
        print(f"  {name:<26}{ratio:6.2f}")
    verdict = "meets" if ratios["attnlrp / gradient"] <= GOAL else "misses"
    print(f"AttnLRP / plain gradient = {ratios['attnlrp / gradient']:.2f}: {verdict} the goal of ≤ {GOAL:g}")
    if args.record:
        result = {
            "date": datetime.date.today().isoformat(),
            "machine": machine.record(),
            "tensorflow": tf.__version__,
            "model": source,
            "batch": args.batch,
            "length": length,
            "repeats": args.repeats,
            "median_seconds": {name: round(value, 4) for name, value in median.items()},
            "ratios": {name: round(value, 3) for name, value in ratios.items()},
            "goal": f"attnlrp / gradient <= {GOAL:g}",
            "seconds": {name: [round(value, 4) for value in times] for name, times in seconds.items()},
        }
        Path(args.record).write_text(json.dumps(result, indent=1) + "\n")
        print(f"recorded in {args.record}")


if __name__ == "__main__":
    main()
